/**
 * Load soak of the local server on loopback: 50 concurrent clients for SOAK_SECONDS (default 60),
 * bounded in time. Zero unexpected errors, no leaked file descriptors, and no leak: the server's
 * heap after a forced full GC (read through the inspector protocol) stays flat over the run. RSS is
 * printed, not asserted: it moves with the allocator (freed pages are not always returned at once),
 * which is not a leak. Asserts no wall-clock latency.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { goldenRequest, readGolden, ROOT } from '../helpers.ts';
import { Inspector, leastSquaresSlope } from '../inspector.ts';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
const WARMUP_SECONDS = Math.max(2, Math.round(SECONDS / 6));
const CLIENTS = 50;

/** The Node flags `npm start` runs the server with (a fixed young generation: see the README's reliability section). */
const START_FLAGS = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(' ').filter((t) => t.startsWith('--'));

const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
/** Heap samples are taken this often during the measured part of the run. */
const SAMPLE_EVERY_MS = 5000;
/** A leak is heap that survives full GCs and keeps growing: allowed growth over the measured run. */
const MAX_HEAP_GROWTH_BYTES = 8 * 1024 * 1024;
const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

describe(`load soak: ${CLIENTS} clients for ${SECONDS} s`, () => {
  let child: ChildProcess;
  let url: string;
  let inspector: Inspector | undefined;
  before(async () => {
    // The inspector (loopback, a free port) lets the test force a full GC in the server and read its heap.
    child = spawn(process.execPath, ['--inspect=127.0.0.1:0', ...START_FLAGS, join(ROOT, 'bin', 'serve.ts')], { cwd: ROOT, env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let errors = '';
    child.stdout!.on('data', (c) => (output += c));
    child.stderr!.on('data', (c) => (errors += c));
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(output)), 20_000);
      child.stdout!.on('data', () => {
        const match = /on (http:\/\/[\d.:]+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
    });
    inspector = await Inspector.connect(/Debugger listening on (ws:\/\/\S+)/.exec(errors)![1]);
  });
  after(() => {
    inspector?.close();
    child.kill('SIGTERM');
  });

  it('answers every request correctly with stable memory and handles', async () => {
    const requests = ['iris_forest', 'breast_cancer_classifier', 'diabetes_regressor', 'digits_mlp'].map((name) => ({
      path: `/v2/models/${name}/infer`,
      body: JSON.stringify(goldenRequest(readGolden(name), 4)),
      label: readGolden(name).outputs[0].data.slice(0, 1)[0],
    }));
    const latencies: number[] = [];
    const statuses = new Map<number, number>();
    const wrong: string[] = [];
    const run = async (until: number, record: boolean) => {
      await Promise.all(
        Array.from({ length: CLIENTS }, async (_, client) => {
          let i = client;
          while (Date.now() < until) {
            const request = requests[i++ % requests.length];
            const started = performance.now();
            try {
              const response = await fetch(`${url}${request.path}`, { method: 'POST', body: request.body, signal: AbortSignal.timeout(10_000) });
              const body = (await response.json()) as { outputs?: { data: number[] }[] };
              if (!record) continue;
              latencies.push(performance.now() - started);
              statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
              if (response.status === 200 && Math.abs(body.outputs![0].data[0] - request.label) > 1e-3) wrong.push(request.path);
            } catch (error) {
              if (record) statuses.set(-1, (statuses.get(-1) ?? 0) + 1);
              if (record) wrong.push(`${request.path}: ${(error as Error).message}`);
            }
          }
        }),
      );
    };
    await run(Date.now() + WARMUP_SECONDS * 1000, false);
    const pid = child.pid!;
    const [rssAfterWarmup, fdsAfterWarmup] = [rssKb(pid), openFds(pid)];
    const heap: { atMs: number; bytes: number; rssKb: number }[] = [];
    const started = Date.now();
    const sample = async () => heap.push({ atMs: Date.now() - started, bytes: await inspector!.heapAfterGc(), rssKb: rssKb(pid) });
    await sample();
    const sampler = setInterval(() => void sample(), SAMPLE_EVERY_MS);
    await run(Date.now() + (SECONDS - WARMUP_SECONDS) * 1000, true);
    clearInterval(sampler);
    await new Promise((resolve) => setTimeout(resolve, 500)); // let keep-alive sockets settle
    await sample();
    const [rssEnd, fdsEnd] = [rssKb(pid), openFds(pid)];
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(2);
    const total = latencies.length;
    console.log(`soak: ${total} requests in ${SECONDS - WARMUP_SECONDS} s (${Math.round(total / (SECONDS - WARMUP_SECONDS))} req/s), p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms; RSS ${rssAfterWarmup} -> ${rssEnd} kB (${((100 * (rssEnd - rssAfterWarmup)) / rssAfterWarmup).toFixed(1)}%); fds ${fdsAfterWarmup} -> ${fdsEnd}; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    assert.ok(total > 0);
    assert.deepEqual([...statuses.keys()], [200], `unexpected statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    assert.deepEqual(wrong.slice(0, 5), []);
    const curve = heap.map((h) => `${(h.atMs / 1000).toFixed(0)}s ${(h.bytes / 1048576).toFixed(2)} MB (RSS ${(h.rssKb / 1024).toFixed(0)} MB)`).join(', ');
    const growth = leastSquaresSlope(heap.map((h) => [h.atMs, h.bytes])) * (heap[heap.length - 1].atMs - heap[0].atMs);
    console.log(`soak: heap after full GC: ${curve}; fitted growth over the run ${(growth / 1048576).toFixed(2)} MB`);
    assert.ok(heap.length >= 3, 'too few heap samples to judge a trend');
    assert.ok(growth < MAX_HEAP_GROWTH_BYTES, `heap after GC grew by ${(growth / 1048576).toFixed(2)} MB over the run (a leak): ${curve}`);
    assert.ok(fdsEnd <= fdsAfterWarmup + 10, `file descriptors grew from ${fdsAfterWarmup} to ${fdsEnd}`);
  });
});
