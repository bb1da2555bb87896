/**
 * The local console: a page at / that lists the models with their signatures, sends a request
 * from a form, and plots live request rate, error rate and latency percentiles, from the same
 * request observations the metrics come from; and, for versions `modelship optimize` wrote, how each
 * compares with its source (optimization.json).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { InferenceService } from '../../core/inference-service.ts';
import { classLabels, describeFeatures, type TabularModel } from '../../core/tasks/tabular.ts';
import { taskContentTypes } from '../../core/tasks/registry.ts';
import type { BatchRun } from '../../core/batcher.ts';
import type { RequestObservation } from '../../observability/telemetry.ts';
import { exampleRequest } from './examples.ts';
import { readOptimizations } from '../../core/optimization-record.ts';

/** Dynamic batching per model since the server started, for the console. */
export class BatchStats {
  private readonly models = new Map<string, { batches: number; requests: number; rows: number; queueDelayMicros: number; largest: number }>();

  record(model: string, run: BatchRun): void {
    let entry = this.models.get(model);
    if (entry === undefined) this.models.set(model, (entry = { batches: 0, requests: 0, rows: 0, queueDelayMicros: 0, largest: 0 }));
    entry.batches++;
    entry.requests += run.requests;
    entry.rows += run.rows;
    entry.queueDelayMicros += run.queueDelayMicros;
    entry.largest = Math.max(entry.largest, run.rows);
  }

  snapshot(): Record<string, { batches: number; requests: number; meanBatchRows: number; largestBatchRows: number; meanQueueDelayMs: number }> {
    return Object.fromEntries([...this.models].map(([model, e]) => [model, { batches: e.batches, requests: e.requests, meanBatchRows: e.rows / e.batches, largestBatchRows: e.largest, meanQueueDelayMs: e.queueDelayMicros / e.batches / 1000 }]));
  }
}

/** Per-second request statistics over a sliding window, for the console's charts. */
export class RequestStats {
  private readonly buckets = new Map<number, { count: number; clientErrors: number; serverErrors: number; latencies: number[] }>();
  private readonly windowSeconds: number;
  /** Latencies kept per second for percentiles (a uniform sample past this): bounds memory at about windowSeconds × 8 kB. */
  private readonly maxSamples = 1000;

  constructor(windowSeconds = 120) {
    this.windowSeconds = windowSeconds;
  }

  record(o: Pick<RequestObservation, 'statusCode' | 'durationMs'>, now = Date.now()): void {
    const second = Math.floor(now / 1000);
    let bucket = this.buckets.get(second);
    if (bucket === undefined) {
      this.buckets.set(second, (bucket = { count: 0, clientErrors: 0, serverErrors: 0, latencies: [] }));
      for (const key of this.buckets.keys()) if (key <= second - this.windowSeconds) this.buckets.delete(key);
    }
    bucket.count++;
    if (o.statusCode >= 500) bucket.serverErrors++;
    else if (o.statusCode >= 400) bucket.clientErrors++;
    // Reservoir sampling keeps the percentiles honest when a second holds more requests than samples.
    if (bucket.latencies.length < this.maxSamples) bucket.latencies.push(o.durationMs);
    else {
      const slot = Math.floor(Math.random() * bucket.count);
      if (slot < this.maxSamples) bucket.latencies[slot] = o.durationMs;
    }
  }

  /** The last `seconds` seconds, one point per second (null where no request), and totals over the last minute. */
  snapshot(seconds = 120, now = Date.now()) {
    const last = Math.floor(now / 1000) - 1; // the current second is still filling
    const series = { time: [] as number[], rate: [] as number[], clientErrorRate: [] as (number | null)[], serverErrorRate: [] as (number | null)[], p50: [] as (number | null)[], p95: [] as (number | null)[], p99: [] as (number | null)[] };
    for (let t = last - seconds + 1; t <= last; t++) {
      const b = this.buckets.get(t);
      series.time.push(t);
      series.rate.push(b?.count ?? 0);
      series.clientErrorRate.push(b === undefined ? null : (100 * b.clientErrors) / b.count);
      series.serverErrorRate.push(b === undefined ? null : (100 * b.serverErrors) / b.count);
      const sorted = b === undefined ? [] : [...b.latencies].sort((x, y) => x - y);
      series.p50.push(percentile(sorted, 50));
      series.p95.push(percentile(sorted, 95));
      series.p99.push(percentile(sorted, 99));
    }
    let count = 0;
    let errors = 0;
    const latencies: number[] = [];
    for (let t = last - 59; t <= last; t++) {
      const b = this.buckets.get(t);
      if (b === undefined) continue;
      count += b.count;
      errors += b.clientErrors + b.serverErrors;
      latencies.push(...b.latencies);
    }
    latencies.sort((x, y) => x - y);
    const lastMinute = { requests: count, ratePerSecond: count / 60, errorRatePercent: count === 0 ? 0 : (100 * errors) / count, p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99) };
    return { series, lastMinute };
  }
}

/** Nearest-rank percentile of sorted values; null when there are none. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export interface ConsoleResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string | Buffer;
  /** The page and its scripts: served without the API key (they hold no data). */
  readonly public?: boolean;
}

const STATIC: Record<string, { file: () => string; type: string }> = {
  '/': { file: () => join(import.meta.dirname, 'console', 'index.html'), type: 'text/html; charset=utf-8' },
  '/console/console.js': { file: () => join(import.meta.dirname, 'console', 'console.js'), type: 'text/javascript; charset=utf-8' },
  // uPlot draws the charts: a small, dependency-free charting library, served from node_modules.
  '/console/uPlot.iife.min.js': { file: () => createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/console/uPlot.min.css': { file: () => createRequire(import.meta.url).resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/** A task renderer's path: lower-case task names only, so nothing outside console/tasks/ is read. */
const TASK_RENDERER = /^\/console\/tasks\/([a-z0-9]+(?:-[a-z0-9]+)*)\.js$/;

/** The page's own security headers: scripts and styles from this server only, nothing framed. */
const PAGE_HEADERS = {
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
};

export class LocalConsole {
  readonly stats: RequestStats;
  private readonly service: InferenceService;

  readonly batches: BatchStats;

  /** `stats`: the request statistics the pipeline's observations feed (LocalRuntime.stats); `batches`: the batcher's runs. */
  constructor(service: InferenceService, stats: RequestStats, batches: BatchStats = new BatchStats()) {
    this.batches = batches;
    this.service = service;
    this.stats = stats;
  }

  /** Answers the console's own paths (GET only); undefined for everything else, which goes to the handler. */
  /**
   * `authorized`: whether the request carries the API key (or none is required). The page and its
   * scripts are answered either way; the data behind them is not even computed without the key (the
   * request then goes on to the pipeline, which answers 401).
   */
  async route(method: string, path: string, authorized: boolean): Promise<ConsoleResponse | undefined> {
    if (method !== 'GET') return undefined;
    const asset = STATIC[path];
    if (asset !== undefined) return { statusCode: 200, headers: { ...PAGE_HEADERS, 'Content-Type': asset.type }, body: await readFile(asset.file()), public: true };
    // A task's renderer (console/tasks/<task>.js, and the helpers they share): a task without one is answered 404, and the page falls back to its JSON form.
    const renderer = TASK_RENDERER.exec(path)?.[1];
    if (renderer !== undefined) {
      const body = await readFile(join(import.meta.dirname, 'console', 'tasks', `${renderer}.js`)).catch(() => undefined);
      return body === undefined ? { statusCode: 404, headers: { ...PAGE_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' }, body: 'no renderer for this task', public: true } : { statusCode: 200, headers: { ...PAGE_HEADERS, 'Content-Type': 'text/javascript; charset=utf-8' }, body, public: true };
    }
    if (path === '/favicon.ico') return { statusCode: 204, headers: {}, body: '', public: true };
    if (!authorized) return undefined;
    if (path === '/console/api/stats') return json({ ...this.stats.snapshot(), batching: this.batches.snapshot() });
    if (path === '/console/api/models') return json(await this.models());
    return undefined;
  }

  /**
   * Every model: versions, the live version's signature and an example request, or why it cannot load;
   * and each version `modelship optimize` wrote, against its source.
   */
  async models() {
    const catalog = await this.service.repository.catalog();
    return Promise.all(
      [...catalog.values()].map(async (entry) => {
        const optimizations = await readOptimizations(this.service.repository.source, entry);
        const base = { name: entry.name, versions: entry.versions, liveVersion: entry.liveVersion, description: entry.config.description, optimizations };
        if (entry.problem !== undefined || entry.liveVersion === undefined) return { ...base, problem: entry.problem ?? 'no versions' };
        try {
          const model = await this.service.repository.load(entry.name, entry.liveVersion);
          const metadata = await this.service.metadata(entry.name);
          // A task model: its module's name (the console loads tasks/<task>.js to render it), content types and description.
          const task: Record<string, unknown> | undefined = model.task === undefined ? undefined : { task: model.task.module.name, contentTypes: taskContentTypes(model.task), ...model.task.module.describe(model.task.loaded) };
          // A converted model: its source, what it computes, and its features (the form gives each one a field).
          const converted = model.tabular === undefined ? {} : { source: sourceOf(model.tabular), features: describeFeatures(model.tabular) };
          return { ...base, inputs: metadata.inputs, outputs: metadata.outputs, labels: (task?.labels as string[] | undefined) ?? classLabels(model), task, ...converted, example: await exampleRequest(this.service, model) };
        } catch (error) {
          return { ...base, problem: (error as Error).message };
        }
      }),
    );
  }
}

/** A converted model's source as the console shows it. */
const sourceOf = ({ record }: TabularModel) => ({ format: record.format, file: record.source.file, producer: record.source.producer, objective: record.objective, link: record.link, task: record.task, trees: record.trees, inputType: record.inputType, inexact: record.inexact });

const json = (value: unknown): ConsoleResponse => ({ statusCode: 200, headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }, body: JSON.stringify(value) });
