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
 * Bodies of 7 MB (just over the 6 MiB default) and 60 MB, uploaded as clients upload files: streamed
 * with the length declared up front (fetch of a stream with its Content-Length, curl -T). A client
 * that copies the whole body into memory first races the server the same way, but spends tens of
 * milliseconds of CPU per run doing it, which 400 runs cannot afford in the suite.
 */
const dir = mkdtempSync(join(tmpdir(), 'over-limit-'));
const MB = 1_000_000;
const jsonStart = (bytes: number) => {
  const body = Buffer.alloc(bytes, ' ');
  body.write('{"inputs": [');
  return body;
};
const SIZES_MB = [7, 60];
const files = new Map(SIZES_MB.map((mb) => [mb, join(dir, `${mb}mb.json`)]));
for (const [mb, file] of files) writeFileSync(file, jsonStart(mb * MB));

/** `mb` MB as a stream of 1 MB chunks. */
function upload(mb: number): ReadableStream<Uint8Array> {
  const chunk = jsonStart(MB);
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent++ < mb) controller.enqueue(new Uint8Array(chunk));
      else controller.close();
    },
  });
}

async function viaFetch(url: string, mb: number): Promise<string> {
  try {
    const response = await fetch(url, { method: 'POST', body: upload(mb), duplex: 'half', headers: { 'Content-Type': 'application/json', 'Content-Length': String(mb * MB) } } as RequestInit);
    return `${response.status} ${await response.text()}`;
  } catch (error) {
    return `failed: ${(error as Error).message} ${String((error as { cause?: unknown }).cause)}`;
  }
}

/**
 * `runs` uploads by curl, one process making them one after another (--next; a process per upload
 * would spend more CPU starting curl than the test spends on anything else). Each answer, or "failed"
 * with curl's error, in order.
 */
async function viaCurl(url: string, mb: number, runs: number): Promise<string[]> {
  const transfer = ['-sS', '-X', 'POST', url, '-H', 'Content-Type: application/json', '-T', files.get(mb)!, '-w', '\n@@%{http_code}@@\n'];
  const args = Array.from({ length: runs }, (_, i) => (i === 0 ? transfer : ['--next', ...transfer])).flat();
  const { stdout, stderr } = await exec('curl', args, { maxBuffer: 16 * 1024 * 1024 }).catch((error: { stdout: string; stderr: string }) => error);
  const errors = stderr.split('\n').filter(Boolean);
  const answers = stdout.split(/\n@@(\d{3})@@\n/);
  return Array.from({ length: runs }, (_, i) => (answers[2 * i + 1] === '000' || answers[2 * i + 1] === undefined ? `failed: ${errors.shift() ?? 'no answer'}` : `${answers[2 * i + 1]} ${answers[2 * i]}`));
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

/** RUNS curl uploads: PARALLEL processes, each making its share in turn. */
const curlRuns = async (url: string, mb: number): Promise<string[]> => (await Promise.all(Array.from({ length: PARALLEL }, () => viaCurl(url, mb, RUNS / PARALLEL)))).flat();

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
  for (const mb of SIZES_MB) {
    it(`local server, ${mb} MB: fetch and curl get the 413 and its message in ${RUNS} of ${RUNS} runs`, async () => {
      const url = `${local.url}/v2/models/iris_forest/infer`;
      assertAll413(await runs(() => viaFetch(url, mb)), serverLimit);
      assertAll413(await curlRuns(url, mb), serverLimit);
    });
  }

  // SageMaker's server takes up to 25 MiB: 7 MB is read, then refused by the model's 6 MiB limit; 60 MB is refused by the server's.
  for (const mb of SIZES_MB) {
    it(`SageMaker container, ${mb} MB: fetch and curl get the 413 and its message in ${RUNS} of ${RUNS} runs`, async () => {
      const url = `${sagemaker.url}/invocations`;
      const message = mb === 7 ? /over the 6291456-byte limit of model \\"iris_forest\\"/ : serverLimit;
      assertAll413(await runs(() => viaFetch(url, mb)), message);
      assertAll413(await curlRuns(url, mb), message);
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
