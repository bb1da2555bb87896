/**
 * @modelship/client against the local server with AUTH=iam (every method and task, JSON and binary
 * tensors, exact INT64 and BYTES, errors with request ids), and against small real HTTP stand-ins
 * for what a healthy local server never does (503s, 429 with Retry-After, dropped connections, slow
 * answers).
 */
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ModelShipClient, ModelShipError } from '../../../clients/typescript/src/index.ts';
import type { LocalStack } from '../../../lambda/entry/local-stack.ts';
import { assertClose, readGolden, ROOT, startTestLocalServer } from '../../helpers.ts';
import { clientTestRepository } from '../client-repository.ts';

const CREDENTIALS = { accessKeyId: 'AKIDCLIENT', secretAccessKey: 'client/test/secret' };
const ROW = [5.1, 3.5, 1.4, 0.2];
const IMAGE = join(ROOT, 'test', 'fixtures', 'images', 'line-1-180.png');

/** Records what the client sends (content type, body size), passing every call on to the real fetch. */
function recordingFetch(log: { contentType: string | null; bytes: number }[]): typeof fetch {
  return (input, init) => {
    const body = init?.body;
    log.push({ contentType: new Headers(init?.headers).get('content-type'), bytes: typeof body === 'string' ? Buffer.byteLength(body) : body instanceof Uint8Array ? body.length : 0 });
    return fetch(input, init);
  };
}

describe('@modelship/client against the local server (AUTH=iam)', () => {
  let local: LocalStack;
  let client: ModelShipClient;
  const sent: { contentType: string | null; bytes: number }[] = [];
  before(async () => {
    const repo = clientTestRepository('client-');
    local = await startTestLocalServer(repo.dir, { iam: { credentials: CREDENTIALS } });
    client = new ModelShipClient({ url: local.url, credentials: CREDENTIALS, fetch: recordingFetch(sent) });
  });
  after(() => local?.close());

  it('answers health, metadata and readiness', async () => {
    assert.equal(await client.live(), true);
    assert.equal(await client.ready(), true);
    const iris = client.model('iris_forest');
    assert.deepEqual((await iris.metadata()).inputs, [{ name: 'features', datatype: 'FP32', shape: [-1, 4] }]);
    assert.deepEqual((await client.model('iris_forest', { version: 1 }).metadata()).versions, ['1', '2']);
    assert.equal(await iris.ready(), true);
    assert.equal(await client.model('iris_forest', { version: 2 }).ready(), false, 'a version that cannot load is not ready');
  });

  it('infers from a record of typed arrays and from the v2 list with nested arrays, answering typed arrays', async () => {
    const golden = readGolden('iris_forest');
    const iris = client.model('iris_forest');
    const fromRecord = await iris.infer({ inputs: { features: { data: new Float32Array(ROW), shape: [1, 4] } }, id: 'r-1' });
    assert.equal(fromRecord.modelName, 'iris_forest');
    assert.equal(fromRecord.modelVersion, '1');
    assert.equal(fromRecord.id, 'r-1');
    assert.ok(fromRecord.byName.label.data instanceof BigInt64Array);
    assert.deepEqual(Array.from(fromRecord.byName.label.data as BigInt64Array), [0n]);
    assert.ok(fromRecord.byName.probabilities.data instanceof Float32Array);
    assert.deepEqual(fromRecord.byName.probabilities.shape, [1, 3]);
    const rows = golden.inputs[0].data.length / 4;
    const fromList = await iris.infer({ inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 4], data: Array.from({ length: rows }, (_, r) => golden.inputs[0].data.slice(r * 4, r * 4 + 4)) }], outputs: [{ name: 'probabilities' }] });
    assert.deepEqual(fromList.outputs.map((o) => o.name), ['probabilities']);
    assertClose(fromList.byName.probabilities.data as Float32Array, golden.outputs[1].data, golden.tolerance, 'probabilities');
  });

  it('sends a 4 MB FP32 tensor as binary and gets it back bit-identical', async () => {
    const values = new Float32Array(1 << 20);
    randomFillSync(new Uint32Array(values.buffer));
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) values[i] = i; // NaN payloads are not kept by every path
    const before = sent.length;
    const answer = await client.model('identity_fp32').infer({ inputs: { x: { data: values, shape: [1 << 19, 2] } } });
    assert.equal(sent[before].contentType, 'application/octet-stream');
    assert.ok(sent[before].bytes > 4 * 1024 * 1024 && sent[before].bytes < 4 * 1024 * 1024 + 1024, String(sent[before].bytes));
    const out = answer.outputs[0].data as Float32Array;
    assert.deepEqual(answer.outputs[0].shape, [1 << 19, 2]);
    assert.ok(Buffer.from(out.buffer, out.byteOffset, out.byteLength).equals(Buffer.from(values.buffer)), 'bit-identical');
  });

  for (const binary of [false, true]) {
    it(`keeps INT64 past 2^53 and BYTES exact (${binary ? 'binary' : 'JSON'} request)`, async () => {
      const c = new ModelShipClient({ url: local.url, credentials: CREDENTIALS, binaryThresholdBytes: binary ? 0 : Infinity, fetch: recordingFetch(sent) });
      const big = new BigInt64Array([9007199254740993n, -9223372036854775808n, 9223372036854775807n, -9007199254740993n]);
      const before = sent.length;
      const ints = await c.model('identity_int64').infer({ inputs: { x: { data: big, shape: [2, 2] } } });
      assert.equal(sent[before].contentType, binary ? 'application/octet-stream' : 'application/json');
      assert.deepEqual(Array.from(ints.outputs[0].data as BigInt64Array), Array.from(big));
      const texts = ['héllo wörld', '', 'a,b "quoted"', '日本語'];
      const bytes = await c.model('identity_bytes').infer({ inputs: [{ name: 'x', datatype: 'BYTES', shape: [2, 2], data: texts }] });
      assert.deepEqual(bytes.outputs[0].data, texts);
    });
  }

  it('predicts rows, classifies images and texts, embeds, and records feedback', async () => {
    assert.deepEqual(await client.model('iris_forest').predict([ROW]), [{ label: 'setosa', probabilities: [1.0000001192092896, 0, 0] }]);
    const image = client.model('text_orientation');
    assert.equal((await image.classifyImage(IMAGE))[0].label, '180');
    const top1 = await image.classifyImage(new Uint8Array(await import('node:fs/promises').then((fs) => fs.readFile(IMAGE))), { topK: 1 });
    assert.deepEqual([top1.length, top1[0].label], [1, '180']);
    const sections = client.model('debian_sections');
    assert.equal((await sections.classifyText('multiplayer puzzle game with cute monsters'))[0].label, 'games');
    const batch = await sections.classifyText(['TrueType font family', 'network packet analyzer'], { topK: 1 });
    assert.deepEqual(batch.map((labels) => labels.map((l) => l.label)), [['fonts'], ['net']]);
    const vectors = await client.model('debian_embeddings').embed(['a network packet analyzer', 'fonts']);
    assert.deepEqual(vectors.map((v) => v.length), [128, 128]);
    assert.ok(Math.abs(Math.hypot(...vectors[0]) - 1) < 1e-3, 'L2-normalized');
    assert.deepEqual(await client.model('iris_forest').feedback({ id: 'r-1', modelVersion: '1', outcome: 1 }), { recorded: true, model_name: 'iris_forest', model_version: '1', outcome: 1 });
  });

  it('throws ModelShipError with the status, the message and the request id', async () => {
    const once = new ModelShipClient({ url: local.url, credentials: CREDENTIALS, retries: 0 });
    const unknown = await once.model('nope').metadata().catch((e: unknown) => e);
    assert.ok(unknown instanceof ModelShipError);
    assert.equal(unknown.status, 404);
    assert.match(unknown.message, /^model "nope"/);
    const broken = await once.model('iris_forest', { version: 2 }).infer({ inputs: { features: { data: new Float32Array(ROW), shape: [1, 4] } } }).catch((e: unknown) => e);
    assert.ok(broken instanceof ModelShipError);
    assert.equal(broken.status, 503);
    assert.match(broken.requestId ?? '', /^[\w-]{36}$/);
    assert.ok(broken.message.includes(`(request id ${broken.requestId})`), broken.message);
    const bad = await once.model('iris_forest').infer({ inputs: { features: { data: new Float32Array(ROW), shape: [2, 2] } } }).catch((e: unknown) => e);
    assert.match((bad as ModelShipError).message, /^input "features" dimension 1 is 2 but model "iris_forest" expects 4/);
    const wrongKey = new ModelShipClient({ url: local.url, credentials: { ...CREDENTIALS, secretAccessKey: 'wrong' } });
    const refused = await wrongKey.live().catch((e: unknown) => e);
    assert.ok(refused instanceof ModelShipError);
    assert.deepEqual([refused.status, refused.errorType, refused.attempts], [403, 'InvalidSignatureException', 1]);
    assert.match(refused.message, /^The request signature we calculated does not match/);
    assert.match(refused.requestId ?? '', /^[\w-]{36}$/);
    const unsigned = await new ModelShipClient({ url: local.url, auth: 'none' }).live().catch((e: unknown) => e);
    assert.deepEqual([(unsigned as ModelShipError).status, (unsigned as ModelShipError).message], [403, 'Missing Authentication Token']);
  });
});

/** A real HTTP server that answers each request with the next scripted reply, recording when each arrived. */
async function standIn(replies: ((req: IncomingMessage, res: ServerResponse) => void)[]): Promise<{ url: string; arrivals: { at: number; path: string }[]; server: Server }> {
  const arrivals: { at: number; path: string }[] = [];
  const server = createServer((req, res) => {
    arrivals.push({ at: performance.now(), path: req.url ?? '' });
    req.resume();
    req.once('end', () => (replies[arrivals.length - 1] ?? replies[replies.length - 1])(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrivals, server };
}

const status = (code: number, headers: Record<string, string> = {}) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(code, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(code < 400 ? { live: true } : { error: `failure ${code}` }));
};

describe('@modelship/client retries, timeouts and abort', () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
  });
  const start = async (replies: Parameters<typeof standIn>[0]) => {
    const s = await standIn(replies);
    servers.push(s.server);
    return { ...s, client: new ModelShipClient({ url: s.url, auth: 'none', retries: { attempts: 3, baseDelayMs: 20 } }) };
  };

  it('gets one answer from a server that answers 503 twice, then 200', async () => {
    const s = await start([status(503), status(503), status(200)]);
    assert.equal(await s.client.live(), true);
    assert.equal(s.arrivals.length, 3);
  });

  it('waits as Retry-After says after a 429', async () => {
    const s = await start([status(429, { 'Retry-After': '1' }), status(200)]);
    assert.equal(await s.client.live(), true);
    assert.equal(s.arrivals.length, 2);
    assert.ok(s.arrivals[1].at - s.arrivals[0].at >= 990, `retried after ${s.arrivals[1].at - s.arrivals[0].at} ms`);
  });

  it('retries a dropped connection of a request safe to repeat', async () => {
    const s = await start([(req) => req.socket.destroy(), status(200)]);
    assert.equal(await s.client.live(), true);
    assert.equal(s.arrivals.length, 2);
  });

  it('never repeats feedback (not safe to repeat), and gives up after the last attempt', async () => {
    const s = await start([status(503)]);
    const error = await s.client.model('iris').feedback({ outcome: 1, modelVersion: '1' }).catch((e: unknown) => e);
    assert.deepEqual([(error as ModelShipError).status, (error as ModelShipError).attempts, s.arrivals.length], [503, 1, 1]);
    const dropped = await start([(req) => req.socket.destroy()]);
    const network = await dropped.client.model('iris').feedback({ outcome: 1 }).catch((e: unknown) => e);
    assert.deepEqual([(network as ModelShipError).code, dropped.arrivals.length], ['network', 1]);
    const always = await start([status(502)]);
    const exhausted = await always.client.live().catch((e: unknown) => e);
    assert.deepEqual([(exhausted as ModelShipError).status, (exhausted as ModelShipError).attempts, always.arrivals.length], [502, 4, 4]);
  });

  it('times out a slow answer, and stops on abort (also while waiting to retry)', async () => {
    const slow = await start([(_req, res) => setTimeout(() => status(200)(_req, res), 3000)]);
    const timedOut = await slow.client.live({ timeoutMs: 200 }).catch((e: unknown) => e);
    assert.deepEqual([(timedOut as ModelShipError).code, (timedOut as ModelShipError).status], ['timeout', undefined]);
    assert.match((timedOut as Error).message, /^no answer from http:\/\/127\.0\.0\.1:\d+ within 200 ms \(GET \/v2\/health\/live\)$/);

    const aborted = await slow.client.live({ signal: AbortSignal.timeout(100) }).catch((e: unknown) => e);
    assert.equal((aborted as Error).name, 'TimeoutError', 'the signal\'s own reason');
    const controller = new AbortController();
    // Aborted once the 429 is sent: the client is then waiting the 10 s Retry-After asks for.
    const waiting = await start([
      (req, res) => {
        status(429, { 'Retry-After': '10' })(req, res);
        setTimeout(() => controller.abort(), 50);
      },
    ]);
    const stopped = await waiting.client.live({ signal: controller.signal }).catch((e: unknown) => e);
    assert.equal((stopped as Error).name, 'AbortError');
    assert.equal(waiting.arrivals.length, 1);
  });
});
