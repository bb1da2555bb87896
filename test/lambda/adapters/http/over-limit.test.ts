/**
 * A body over the limit, sent by real clients that write it all (undici's fetch, curl), gets its 413
 * and message every time, on both long-running servers: the server reads on past the limit (within
 * bounds) instead of closing on a client that is still writing, which a client sees as EPIPE or a
 * reset when the close outruns the answer. 50 runs per case, so a race shows.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { DISCARD_MAX_BYTES } from '../../../../lambda/adapters/http/node-server.ts';
import { createTestService, SAMPLES_DIR, startTestLocalServer, startTestSageMakerServer } from '../../../helpers.ts';

const exec = promisify(execFile);
const RUNS = 50;
/** Runs in flight at once: enough to keep the test to seconds, few enough that each run races its own close. */
const PARALLEL = 5;

/**
 * Two ways a client sends a large body: 7 MB (just over the 6 MiB default) from memory (fetch of a
 * Buffer, curl --data-binary @file, which reads the file first), and 60 MB streamed as uploads are
 * (fetch of a stream with its Content-Length, curl -T), so that 50 runs take seconds, not a minute
 * of copying 60 MB before each request.
 */
const dir = mkdtempSync(join(tmpdir(), 'over-limit-'));
const MB = 1_000_000;
const jsonStart = (bytes: number) => {
  const body = Buffer.alloc(bytes, ' ');
  body.write('{"inputs": [');
  return body;
};
const small = { mb: 7, bytes: jsonStart(7 * MB), file: join(dir, '7mb.json') };
writeFileSync(small.file, small.bytes);
const large = { mb: 60, file: join(dir, '60mb.json') };
writeFileSync(large.file, jsonStart(60 * MB));

/** 60 MB as a stream of 1 MB chunks, declared up front as a file upload declares it. */
function largeStream(): ReadableStream<Uint8Array> {
  const chunk = jsonStart(MB);
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent++ < 60) controller.enqueue(new Uint8Array(chunk));
      else controller.close();
    },
  });
}

async function viaFetch(url: string, mb: number): Promise<string> {
  try {
    const init = mb === small.mb ? { body: small.bytes } : { body: largeStream(), duplex: 'half', headers: { 'Content-Length': String(60 * MB) } };
    const response = await fetch(url, { method: 'POST', ...init, headers: { 'Content-Type': 'application/json', ...init.headers } } as RequestInit);
    return `${response.status} ${await response.text()}`;
  } catch (error) {
    return `failed: ${(error as Error).message} ${String((error as { cause?: unknown }).cause)}`;
  }
}

async function viaCurl(url: string, mb: number): Promise<string> {
  const upload = mb === small.mb ? ['--data-binary', `@${small.file}`] : ['-T', large.file];
  try {
    const { stdout } = await exec('curl', ['-sS', '-X', 'POST', url, '-H', 'Content-Type: application/json', ...upload, '-w', '\n%{http_code}']);
    const status = stdout.slice(stdout.lastIndexOf('\n') + 1);
    return `${status} ${stdout.slice(0, stdout.lastIndexOf('\n'))}`;
  } catch (error) {
    return `failed: ${(error as { stderr?: string }).stderr ?? (error as Error).message}`;
  }
}

/**
 * A client that writes the whole body before it reads anything (as Python's http.client does):
 * what it reads back once its last byte is written, or how the write failed.
 */
function writeThenRead(url: string, path: string, bytes: number): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(`failed: ${error.code}`));
    socket.on('close', () => resolve(answer));
    socket.write(`POST ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/json\r\nContent-Length: ${bytes}\r\n\r\n`);
    const chunk = jsonStart(MB);
    let left = bytes;
    const writeMore = () => {
      while (left > 0) {
        const piece = left >= MB ? chunk : chunk.subarray(0, left);
        left -= piece.length;
        if (!socket.write(piece)) return void socket.once('drain', writeMore);
      }
      // Only now does it read: ask the server to close once it has answered.
      socket.end();
    };
    writeMore();
  });
}

/** RUNS answers, PARALLEL at a time. */
async function runs(send: () => Promise<string>): Promise<string[]> {
  const answers: string[] = [];
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (answers.length < RUNS) {
      answers.push('');
      answers[answers.length - 1] = await send();
    }
  }));
  return answers;
}

function assertAll413(answers: string[], message: RegExp): void {
  const wrong = answers.filter((answer) => !(answer.startsWith('413 ') && message.test(answer)));
  assert.equal(wrong.length, 0, `${wrong.length} of ${answers.length} runs did not get the 413, e.g.:\n${[...new Set(wrong)].slice(0, 3).join('\n')}`);
}

describe('a body over the limit gets its 413, never a broken pipe', () => {
  let local: Awaited<ReturnType<typeof startTestLocalServer>>;
  let sagemaker: Awaited<ReturnType<typeof startTestSageMakerServer>>;
  before(async () => {
    local = await startTestLocalServer(SAMPLES_DIR);
    sagemaker = await startTestSageMakerServer(createTestService(SAMPLES_DIR), 'iris_forest');
  });
  after(async () => {
    await local.close();
    await sagemaker.close();
  });

  const serverLimit = /request body is \d+ bytes or more, over the server's \d+-byte limit/;
  for (const mb of [small.mb, large.mb]) {
    it(`local server, ${mb} MB: fetch and curl get the 413 and its message in ${RUNS} of ${RUNS} runs`, async () => {
      const url = `${local.url}/v2/models/iris_forest/infer`;
      assertAll413(await runs(() => viaFetch(url, mb)), serverLimit);
      assertAll413(await runs(() => viaCurl(url, mb)), serverLimit);
    });
  }

  // SageMaker's server takes up to 25 MiB: 7 MB is read, then refused by the model's 6 MiB limit; 60 MB is refused by the server's.
  for (const mb of [small.mb, large.mb]) {
    it(`SageMaker container, ${mb} MB: fetch and curl get the 413 and its message in ${RUNS} of ${RUNS} runs`, async () => {
      const url = `${sagemaker.url}/invocations`;
      const message = mb === 7 ? /over the 6291456-byte limit of model \\"iris_forest\\"/ : serverLimit;
      assertAll413(await runs(() => viaFetch(url, mb)), message);
      assertAll413(await runs(() => viaCurl(url, mb)), message);
    });
  }

  it('a client that writes all before reading gets the 413 up to the discard bound, and a closed connection past it', async () => {
    for (const server of [{ url: local.url, path: '/v2/models/iris_forest/infer' }, { url: sagemaker.url, path: '/invocations' }]) {
      for (let run = 0; run < 5; run++) {
        const answer = await writeThenRead(server.url, server.path, 60 * MB);
        assert.match(answer, /^HTTP\/1\.1 413 [\s\S]*request body is 60000000 bytes or more, over the server's \d+-byte limit/, `${server.url}: ${answer.slice(0, 300)}`);
      }
      // Past the bound the server stops reading and closes: the writer's last bytes fail.
      const answer = await writeThenRead(server.url, server.path, DISCARD_MAX_BYTES + 16 * MB);
      assert.match(answer, /^failed: (EPIPE|ECONNRESET)$/, answer.slice(0, 300));
    }
  });
});
