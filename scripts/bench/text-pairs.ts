/**
 * Bench part (z): zero-shot-classification (one text against five candidate labels: five pairs in
 * one run, bert-nli) and text pairs (a query against eight package descriptions, the trained
 * debian-reranker), in one run: ModelShip's local server over HTTP against a bare node:http server
 * doing only the work (the same tokenizer, session.run, the scores; this file run as a script), and
 * that work in process against transformers.js 4.3.1 (its zero-shot pipeline; its tokenizer and
 * model for pairs, since its text-classification pipeline takes none).
 *   node scripts/bench/text-pairs.ts DIR PORT   (the bare server over DIR's models)
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { TextEncoder, type TextPair } from '../../lambda/core/tasks/texts.ts';

export interface TextPairBench {
  readonly startServer: (env: Record<string, string>) => Promise<{ url: string; stop: () => Promise<void> }>;
  readonly medianMs: (fn: () => Promise<unknown>, n: number, warm: number) => Promise<number>;
  readonly quick: boolean;
}

const TEXT = 'A puzzle game where falling blocks fill the rows of a well.';
const LABELS = ['games', 'science', 'fonts', 'sound', 'networking'];
const QUERY = 'games';
// As the server opens sessions (one intra-op thread, no spinning), so the two compare.
const SESSION_OPTIONS: InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, extra: { session: { intra_op: { allow_spinning: '0' } } } };

const softmax = (xs: readonly number[]) => {
  const max = Math.max(...xs);
  const exps = xs.map((x) => Math.exp(x - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
};

/** The work alone: a model's tokenizer and session, pairs in, logits out. */
async function pairModel(folder: string, maxLength: number) {
  const session = await InferenceSession.create(join(folder, 'model.onnx'), SESSION_OPTIONS);
  const encoder = new TextEncoder(JSON.parse(readFileSync(join(folder, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(folder, 'tokenizer_config.json'), 'utf8')), maxLength);
  return async (pairs: readonly TextPair[], strategy: 'only_first' | 'longest_first') => {
    const batch = encoder.encodePairs(pairs, strategy, true);
    const dims = [pairs.length, batch.length];
    const feeds: Record<string, Tensor> = { input_ids: new Tensor('int64', batch.inputIds, dims), attention_mask: new Tensor('int64', batch.attentionMask, dims) };
    if (session.inputNames.includes('token_type_ids')) feeds.token_type_ids = new Tensor('int64', batch.tokenTypeIds, dims);
    return (await session.run(feeds)).logits.data as Float32Array;
  };
}

/** Zero-shot and pair scoring as the pipelines compute them, with nothing around them. */
async function directWork(dir: string) {
  const nli = await pairModel(join(dir, 'bert-nli', '1'), 128);
  const reranker = await pairModel(join(dir, 'debian-reranker', '1'), 64);
  return {
    zeroShot: async (text: string, labels: readonly string[]) => {
      const logits = await nli(labels.map((l) => ({ text, text_pair: `This example is ${l}.` })), 'only_first');
      const scores = softmax(labels.map((_, j) => logits[j * 3 + 2]));
      const order = scores.map((_, j) => j).sort((a, b) => scores[b] - scores[a]);
      return { sequence: text, labels: order.map((j) => labels[j]), scores: order.map((j) => scores[j]) };
    },
    pairs: async (pairs: readonly TextPair[]) => Array.from(await reranker(pairs, 'longest_first'), (v) => [{ label: 'LABEL_0', score: 1 / (1 + Math.exp(-v)) }]),
  };
}

/** The bare server: POST /zero-shot {"inputs", "parameters": {"candidate_labels"}}, POST /pairs {"inputs": [pairs]}. */
async function serveBare(dir: string, port: number): Promise<void> {
  const work = await directWork(dir);
  createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const answer = req.url === '/zero-shot' ? await work.zeroShot(body.inputs, body.parameters.candidate_labels) : await work.pairs(body.inputs);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  }).listen(port, '127.0.0.1', () => console.log('ready'));
}

export async function benchTextPairs({ startServer, medianMs, quick }: TextPairBench): Promise<Record<string, number>> {
  const { layOutTextPairFixtures, TEXT_PAIRS_DIR } = await import('../../test/lambda/core/tasks/text-pairs-fixtures.ts');
  const { env, pipeline } = await import('@huggingface/transformers');
  const { dir, transformersJs } = layOutTextPairFixtures({}, ['bert-nli', 'debian-reranker']);
  const documents = (JSON.parse(readFileSync(join(TEXT_PAIRS_DIR, 'debian-reranker', 'evaluation.json'), 'utf8')) as { pairs: { text_pair: string }[] }).pairs.filter((_, i) => i % 6 === 0).slice(0, 8).map((p) => p.text_pair);
  const pairs = documents.map((d) => ({ text: QUERY, text_pair: d }));
  const n = quick ? 50 : 300;
  const post = (url: string, body: unknown) => fetch(url, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }).then((r) => r.text());
  const zeroShotBody = { inputs: TEXT, parameters: { candidate_labels: LABELS } };
  const result: Record<string, number> = {};

  const ours = await startServer({ MODEL_DIR: dir });
  const bare = spawn(process.execPath, [import.meta.filename, dir, '18161'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => bare.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
  // Interleaved, one request each in turn, so both see the same machine (a shared one's load drifts).
  const interleaved = async (a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number, number]> => {
    const [ta, tb]: number[][] = [[], []];
    for (let i = 0; i < n + 20; i++) {
      for (const [fn, times] of [[a, ta], [b, tb]] as const) {
        const started = performance.now();
        await fn();
        if (i >= 20) times.push(performance.now() - started);
      }
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
    return [median(ta), median(tb)];
  };
  [result.zeroShotBareHttp, result.zeroShotHttp] = await interleaved(() => post('http://127.0.0.1:18161/zero-shot', zeroShotBody), () => post(`${ours.url}/v2/models/bert-nli/infer`, zeroShotBody));
  [result.pairsBareHttp, result.pairsHttp] = await interleaved(() => post('http://127.0.0.1:18161/pairs', { inputs: pairs }), () => post(`${ours.url}/v2/models/debian-reranker/infer`, { inputs: pairs }));
  bare.kill('SIGINT');
  await ours.stop();

  const work = await directWork(dir);
  result.zeroShotDirect = await medianMs(() => work.zeroShot(TEXT, LABELS), n, 20);
  result.pairsDirect = await medianMs(() => work.pairs(pairs), n, 20);
  env.allowRemoteModels = false;
  env.localModelPath = transformersJs;
  const zeroShot = await pipeline('zero-shot-classification', 'bert-nli', { dtype: 'fp32', session_options: SESSION_OPTIONS });
  result.zeroShotTransformersJs = await medianMs(() => zeroShot(TEXT, LABELS), n, 20);
  await zeroShot.dispose();
  const classifier = await pipeline('text-classification', 'debian-reranker', { dtype: 'fp32', session_options: SESSION_OPTIONS });
  result.pairsTransformersJs = await medianMs(async () => {
    const inputs = classifier.tokenizer(pairs.map((p) => p.text), { text_pair: documents, padding: true, truncation: true });
    return Array.from((await classifier.model(inputs)).logits.data as Float32Array, (v) => 1 / (1 + Math.exp(-v)));
  }, n, 20);
  await classifier.dispose();
  rmSync(dir, { recursive: true, force: true });
  rmSync(transformersJs, { recursive: true, force: true });
  return result;
}

if (import.meta.main) await serveBare(process.argv[2], Number(process.argv[3]));
