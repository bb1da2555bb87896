/**
 * Bench part (z): zero-shot-classification (one text against five candidate labels: five pairs in
 * one run) and text pairs (a query against eight descriptions on the trained Debian reranker), each
 * three ways in one run: over HTTP to the local server, the same work done directly in this process
 * (the tokenizer, session.run, the scores) and transformers.js 4.3.1's pipeline (its zero-shot
 * pipeline; its tokenizer and model for pairs, since its text-classification pipeline takes none).
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { env, pipeline } from '@huggingface/transformers';
import { defaultSessionOptions } from '../../lambda/core/sessions.ts';
import { TextEncoder, type TextPair } from '../../lambda/core/tasks/texts.ts';
import { layOutTextPairFixtures, TEXT_PAIRS_DIR } from '../../test/lambda/core/tasks/text-pairs-fixtures.ts';

export interface TextPairBench {
  readonly startServer: (env: Record<string, string>) => Promise<{ url: string; stop: () => Promise<void> }>;
  readonly medianMs: (fn: () => Promise<unknown>, n: number, warm: number) => Promise<number>;
  readonly quick: boolean;
}

const TEXT = 'A puzzle game where falling blocks fill the rows of a well.';
const LABELS = ['games', 'science', 'fonts', 'sound', 'networking'];
const QUERY = 'games';

/** A session as the server opens one (its default options), and a run of the feeds it needs. */
async function direct(folder: string, maxLength: number) {
  const session = await InferenceSession.create(join(folder, 'model.onnx'), defaultSessionOptions());
  const encoder = new TextEncoder(JSON.parse(readFileSync(join(folder, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(folder, 'tokenizer_config.json'), 'utf8')), maxLength);
  return async (pairs: TextPair[], strategy: 'only_first' | 'longest_first') => {
    const batch = encoder.encodePairs(pairs, strategy, true);
    const dims = [pairs.length, batch.length];
    const feeds: Record<string, Tensor> = { input_ids: new Tensor('int64', batch.inputIds, dims), attention_mask: new Tensor('int64', batch.attentionMask, dims) };
    if (session.inputNames.includes('token_type_ids')) feeds.token_type_ids = new Tensor('int64', batch.tokenTypeIds, dims);
    return (await session.run(feeds)).logits.data as Float32Array;
  };
}

export async function benchTextPairs({ startServer, medianMs, quick }: TextPairBench): Promise<Record<string, number>> {
  const { dir, transformersJs } = layOutTextPairFixtures({}, ['bert-nli', 'debian-reranker']);
  const documents = (JSON.parse(readFileSync(join(TEXT_PAIRS_DIR, 'debian-reranker', 'evaluation.json'), 'utf8')) as { pairs: { text_pair: string }[] }).pairs.filter((_, i) => i % 6 === 0).slice(0, 8).map((p) => p.text_pair);
  const n = quick ? 50 : 300;
  const server = await startServer({ MODEL_DIR: dir });
  const post = (model: string, body: unknown) => fetch(`${server.url}/v2/models/${model}/infer`, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }).then((r) => r.json());
  const zeroShotBody = { inputs: TEXT, parameters: { candidate_labels: LABELS } };
  const pairsBody = { inputs: documents.map((d) => ({ text: QUERY, text_pair: d })) };
  const result: Record<string, number> = {};
  result.zeroShotHttp = await medianMs(() => post('bert-nli', zeroShotBody), n, 20);
  result.pairsHttp = await medianMs(() => post('debian-reranker', pairsBody), n, 20);
  await server.stop();

  // In process: tokenizer + session.run + the pipeline's scores, nothing else.
  const nli = await direct(join(dir, 'bert-nli', '1'), 128);
  result.zeroShotDirect = await medianMs(async () => {
    const logits = await nli(LABELS.map((l) => ({ text: TEXT, text_pair: `This example is ${l}.` })), 'only_first');
    const entail = LABELS.map((_, j) => logits[j * 3 + 2]);
    const max = Math.max(...entail);
    const exps = entail.map((v) => Math.exp(v - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    return exps.map((e) => e / sum).sort((a, b) => b - a);
  }, n, 20);
  const reranker = await direct(join(dir, 'debian-reranker', '1'), 64);
  result.pairsDirect = await medianMs(async () => Array.from(await reranker(documents.map((d) => ({ text: QUERY, text_pair: d })), 'longest_first'), (v) => 1 / (1 + Math.exp(-v))), n, 20);

  env.allowRemoteModels = false;
  env.localModelPath = transformersJs;
  const zeroShot = await pipeline('zero-shot-classification', 'bert-nli', { dtype: 'fp32' });
  result.zeroShotTransformersJs = await medianMs(() => zeroShot(TEXT, LABELS), n, 20);
  await zeroShot.dispose();
  const classifier = await pipeline('text-classification', 'debian-reranker', { dtype: 'fp32' });
  result.pairsTransformersJs = await medianMs(async () => {
    const inputs = classifier.tokenizer(documents.map(() => QUERY), { text_pair: documents, padding: true, truncation: true });
    return Array.from((await classifier.model(inputs)).logits.data as Float32Array, (v) => 1 / (1 + Math.exp(-v)));
  }, n, 20);
  await classifier.dispose();
  rmSync(dir, { recursive: true, force: true });
  rmSync(transformersJs, { recursive: true, force: true });
  return result;
}
