/**
 * The repository the OpenAI- and rerank-client tests serve: the text embedding sample (taking
 * "dimensions" 64 and 32, as a Matryoshka model would list them) and a copy that lists none, the
 * text classifier sample and a tabular one, and what those tests compare against: the vectors /v2/models/{name}/infer answers.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SAMPLES_DIR, TempRepository } from '../../helpers.ts';

export const EMBEDDER = 'debian_embeddings';
export const MATRYOSHKA_DIMENSIONS = [64, 32];
export const TEXTS = ['a chess engine with a graphical board', 'tools to capture and analyse network packets', 'Übersetzungen für GNOME — ein Schriftsatz'];

export function compatTestRepository(prefix: string): TempRepository {
  // plain_embeddings: the same model without matryoshkaDimensions, which refuses "dimensions".
  return new TempRepository(prefix).sample(EMBEDDER).config(EMBEDDER, { matryoshkaDimensions: MATRYOSHKA_DIMENSIONS }).sample(EMBEDDER, 'plain_embeddings').config('plain_embeddings', { matryoshkaDimensions: undefined }).sample('debian_sections').sample('iris_forest');
}

/** The texts' vectors as the model's /infer route answers them (the Hugging Face task shape). */
export async function inferVectors(url: string, texts: readonly string[], headers: Record<string, string> = {}): Promise<number[][]> {
  const response = await fetch(`${url}/v2/models/${EMBEDDER}/infer`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify({ inputs: texts }) });
  if (response.status !== 200) throw new Error(`/infer answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as number[][];
}

/** The texts as token ids (special tokens included), by the tokenizer library on the sample's own tokenizer.json. */
export function tokenIds(texts: readonly string[]): number[][] {
  const dir = join(SAMPLES_DIR, EMBEDDER, '1');
  const tokenizer = new Tokenizer(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')));
  return texts.map((t) => tokenizer.encode(t, { add_special_tokens: true }).ids);
}

/** A vector cut to `dimensions` and L2-normalized again, in float64 (what OpenAI's "dimensions" does to an embedding). */
export function matryoshka(vector: readonly number[], dimensions: number): number[] {
  const cut = vector.slice(0, dimensions);
  const norm = Math.hypot(...cut);
  return cut.map((v) => v / norm);
}
