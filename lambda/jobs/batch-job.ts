/**
 * Batch prediction on the inference core. A job is one input file under batch/input/<model>/
 * (JSON Lines of v2 requests or of rows, or CSV with a header). It is planned into chunks of lines
 * (byte ranges, so any size streams), each chunk is scored in batches and written once under
 * batch/output/<model>/<job>/chunks/, and the job is finalised by concatenating the chunks in input
 * order into results.jsonl and errors.jsonl beside a manifest.json. The Lambda workers and the CLI
 * run this same code.
 */
import { createHash } from 'node:crypto';
import { parse as parseCsv } from 'csv-parse/sync';
import { describeError, isInferenceError } from '../core/errors.ts';
import type { InferenceService } from '../core/inference-service.ts';
import type { BatchStore } from '../stores/batch-store.ts';

export type BatchFormat = 'jsonl' | 'csv';

export interface ChunkPlan {
  readonly index: number;
  /** Byte range [start, end) of the input. */
  readonly start: number;
  readonly end: number;
  /** 1-based number of the chunk's first line. */
  readonly firstLine: number;
  readonly lines: number;
}

export interface JobPlan {
  readonly job: string;
  readonly model: string;
  readonly input: string;
  readonly format: BatchFormat;
  /** CSV header line, passed to every chunk. */
  readonly header?: string;
  readonly chunks: readonly ChunkPlan[];
  readonly lines: number;
}

export interface ChunkStats {
  readonly index: number;
  readonly rows: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly millis: number;
}

export interface Manifest {
  job: string;
  model: string;
  version?: string;
  input: string;
  format: BatchFormat;
  status: 'running' | 'succeeded' | 'completed_with_errors';
  chunks: number;
  chunksDone: number;
  rows: number;
  succeeded: number;
  failed: number;
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  rowsPerSecond?: number;
  results: string;
  errors: string;
}

export const INPUT_PREFIX = 'batch/input/';
export const OUTPUT_PREFIX = 'batch/output/';

/** The model and format of an input key batch/input/<model>/<file>.(jsonl|json|ndjson|csv). */
export function describeInput(key: string): { model: string; format: BatchFormat } {
  const match = /^batch\/input\/([^/]+)\/[^/]+\.(jsonl|ndjson|json|csv)$/i.exec(key);
  if (match === null) throw new Error(`batch input "${key}" must be batch/input/<model>/<file>.jsonl or .csv`);
  return { model: match[1], format: match[2].toLowerCase() === 'csv' ? 'csv' : 'jsonl' };
}

/** A job id from the input key and its size: stable across retries of the same upload. */
export function jobId(key: string, size: number): string {
  const base = key.split('/').pop()!.replace(/\.[^.]+$/, '').replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 48);
  return `${base}-${createHash('sha256').update(`${key}:${size}`).digest('hex').slice(0, 10)}`;
}

export const jobPrefix = (model: string, job: string) => `${OUTPUT_PREFIX}${model}/${job}/`;
const chunkKey = (plan: { model: string; job: string }, index: number, kind: 'results' | 'errors' | 'stats') =>
  `${jobPrefix(plan.model, plan.job)}chunks/${String(index).padStart(6, '0')}.${kind}.${kind === 'stats' ? 'json' : 'jsonl'}`;

/** Streams the input once, cutting it into chunks of `linesPerChunk` lines at newline boundaries. */
export async function planJob(store: BatchStore, input: string, linesPerChunk = 5000): Promise<JobPlan> {
  const { model, format } = describeInput(input);
  const chunks: ChunkPlan[] = [];
  let offset = 0;
  let line = 0;
  let chunkStart = 0;
  let chunkFirstLine = 1;
  let header: string | undefined;
  let headerBytes: number[] = [];
  const close = (end: number) => {
    const lines = line - chunkFirstLine + 1;
    if (end > chunkStart && lines > 0) chunks.push({ index: chunks.length, start: chunkStart, end, firstLine: chunkFirstLine, lines });
    chunkStart = end;
    chunkFirstLine = line + 1;
  };
  for await (const part of store.stream(input)) {
    for (let i = 0; i < part.length; i++) {
      if (format === 'csv' && header === undefined && part[i] !== 0x0a) headerBytes.push(part[i]);
      if (part[i] !== 0x0a) continue;
      line += 1;
      const end = offset + i + 1;
      if (format === 'csv' && header === undefined) {
        header = Buffer.from(headerBytes).toString('utf8').replace(/\r$/, '');
        headerBytes = [];
        chunkStart = end;
        chunkFirstLine = line + 1;
      } else if (line - chunkFirstLine + 1 >= linesPerChunk) close(end);
    }
    offset += part.length;
  }
  if (offset > chunkStart) line += 1; // a last line without a newline
  if (format === 'csv' && header === undefined) {
    if (headerBytes.length === 0) throw new Error(`${input}: a CSV batch input needs a header line`);
    header = Buffer.from(headerBytes).toString('utf8').replace(/\r$/, '');
    chunkStart = offset;
  }
  close(offset);
  return { job: jobId(input, offset), model, input, format, header, chunks, lines: line };
}

type Row = { line: number; value: unknown } | { line: number; request: unknown } | { line: number; error: string };

function parseLine(text: string, line: number, format: BatchFormat, columns: string[] | undefined): Row | undefined {
  const trimmed = text.replace(/\r$/, '');
  if (trimmed.trim() === '') return undefined;
  if (format === 'csv') {
    let cells: string[];
    try {
      cells = (parseCsv(trimmed) as string[][])[0] ?? [];
    } catch (error) {
      return { line, error: `not valid CSV: ${describeError(error)}` };
    }
    if (cells.length !== columns!.length) return { line, error: `has ${cells.length} columns but the header has ${columns!.length}` };
    const values = cells.map(Number);
    const bad = values.findIndex((v, i) => !Number.isFinite(v) || cells[i].trim() === '');
    if (bad >= 0) return { line, error: `column "${columns![bad]}" is "${cells[bad]}", not a number` };
    return { line, value: values };
  }
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (error) {
    return { line, error: `not valid JSON: ${describeError(error)}` };
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && 'inputs' in value) return { line, request: value };
  return { line, value };
}

/** Scores one chunk: rows in batches of `batchSize` (bad rows isolated with their reason), v2 requests one by one. */
export async function scoreLines(service: InferenceService, model: string, text: string, firstLine: number, format: BatchFormat, header: string | undefined, batchSize: number) {
  const columns = format === 'csv' ? ((parseCsv(header ?? '') as string[][])[0] ?? []) : undefined;
  const loaded = await service.loadModel(model);
  const rows = text.split('\n').map((t, i) => parseLine(t, firstLine + i, format, columns)).filter((r): r is Row => r !== undefined);
  const results: { line: number; text: string }[] = [];
  const errors: { line: number; text: string }[] = [];
  const fail = (line: number, error: string) => errors.push({ line, text: JSON.stringify({ line, error }) });
  const scoreRows = async (batch: { line: number; value: unknown }[]): Promise<void> => {
    try {
      const answer = JSON.parse(await service.predict(loaded, { instances: batch.map((r) => r.value) })) as { predictions: unknown[] };
      batch.forEach((r, i) => results.push({ line: r.line, text: `{"line":${r.line},"prediction":${JSON.stringify(answer.predictions[i])}}` }));
    } catch (error) {
      if (!isInferenceError(error) || error.statusCode >= 500) throw error;
      if (batch.length === 1) fail(batch[0].line, error.message);
      // One bad row fails its batch: score the rows one by one to name it and keep the rest.
      else for (const row of batch) await scoreRows([row]);
    }
  };
  let pending: { line: number; value: unknown }[] = [];
  const flush = async () => {
    if (pending.length > 0) await scoreRows(pending);
    pending = [];
  };
  for (const row of rows) {
    if ('error' in row) fail(row.line, row.error);
    else if ('request' in row) {
      await flush();
      try {
        results.push({ line: row.line, text: `{"line":${row.line},"response":${await service.infer(loaded, row.request)}}` });
      } catch (error) {
        if (!isInferenceError(error) || error.statusCode >= 500) throw error;
        fail(row.line, error.message);
      }
    } else {
      pending.push(row);
      if (pending.length >= batchSize) await flush();
    }
  }
  await flush();
  const byLine = (a: { line: number }, b: { line: number }) => a.line - b.line;
  return { results: results.sort(byLine), errors: errors.sort(byLine), version: String(loaded.version) };
}

/**
 * Processes one chunk and writes its outputs once: a retried chunk whose outputs exist is skipped,
 * so retries never duplicate rows. Returns whether it did the work.
 */
export async function processChunk(store: BatchStore, service: InferenceService, plan: JobPlan, index: number, batchSize = 256): Promise<boolean> {
  const statsKey = chunkKey(plan, index, 'stats');
  if (await store.exists(statsKey)) return false;
  const started = performance.now();
  const chunk = plan.chunks[index];
  const text = Buffer.from(await store.readRange(plan.input, chunk.start, chunk.end)).toString('utf8');
  const { results, errors } = await scoreLines(service, plan.model, text, chunk.firstLine, plan.format, plan.header, batchSize);
  const lines = (items: { text: string }[]) => items.map((r) => `${r.text}\n`).join('');
  await store.write(chunkKey(plan, index, 'results'), lines(results));
  await store.write(chunkKey(plan, index, 'errors'), lines(errors));
  const stats: ChunkStats = { index, rows: results.length + errors.length, succeeded: results.length, failed: errors.length, millis: performance.now() - started };
  // Written last, and only if absent: its presence marks the chunk done.
  return store.write(statsKey, JSON.stringify(stats), { ifAbsent: true });
}

/** Starts a job: plans it and records a running manifest (and the plan, for the workers). */
export async function startJob(store: BatchStore, service: InferenceService, input: string, linesPerChunk?: number): Promise<JobPlan> {
  const plan = await planJob(store, input, linesPerChunk);
  const prefix = jobPrefix(plan.model, plan.job);
  const model = await service.loadModel(plan.model);
  await store.write(`${prefix}plan.json`, JSON.stringify(plan));
  const manifest: Manifest = {
    job: plan.job, model: plan.model, version: String(model.version), input, format: plan.format, status: 'running', chunks: plan.chunks.length, chunksDone: 0,
    rows: 0, succeeded: 0, failed: 0, startedAt: new Date().toISOString(), results: `${prefix}results.jsonl`, errors: `${prefix}errors.jsonl`,
  };
  await store.write(`${prefix}manifest.json`, JSON.stringify(manifest, null, 2), { ifAbsent: true });
  return plan;
}

/** When every chunk is done, concatenates their outputs in order and completes the manifest. Safe to call twice. */
export async function finalizeJob(store: BatchStore, plan: JobPlan): Promise<Manifest | undefined> {
  const prefix = jobPrefix(plan.model, plan.job);
  const manifest = JSON.parse(Buffer.from((await store.read(`${prefix}manifest.json`))!).toString('utf8')) as Manifest;
  const done = (await store.list(`${prefix}chunks/`)).filter((k) => k.endsWith('.stats.json'));
  if (done.length < plan.chunks.length) {
    return undefined;
  }
  if (manifest.status !== 'running') return manifest;
  const stats: ChunkStats[] = [];
  for (const chunk of plan.chunks) stats.push(JSON.parse(Buffer.from((await store.read(chunkKey(plan, chunk.index, 'stats')))!).toString('utf8')));
  const concat = (kind: 'results' | 'errors') =>
    (async function* () {
      for (const chunk of plan.chunks) yield (await store.read(chunkKey(plan, chunk.index, kind))) ?? new Uint8Array();
    })();
  await store.writeStream(`${prefix}results.jsonl`, concat('results'));
  await store.writeStream(`${prefix}errors.jsonl`, concat('errors'));
  const finished = new Date();
  const durationMs = finished.getTime() - Date.parse(manifest.startedAt);
  const succeeded = stats.reduce((s, c) => s + c.succeeded, 0);
  const failed = stats.reduce((s, c) => s + c.failed, 0);
  const final: Manifest = {
    ...manifest, status: failed > 0 ? 'completed_with_errors' : 'succeeded', chunksDone: stats.length, rows: succeeded + failed, succeeded, failed,
    finishedAt: finished.toISOString(), durationMs, rowsPerSecond: Math.round(((succeeded + failed) / Math.max(durationMs, 1)) * 1000),
  };
  await store.write(`${prefix}manifest.json`, JSON.stringify(final, null, 2));
  return final;
}

/** Runs a whole job in this process (the CLI): plan, every chunk, finalise; reports progress. */
export async function runJob(store: BatchStore, service: InferenceService, input: string, options: { linesPerChunk?: number; batchSize?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<Manifest> {
  const plan = await startJob(store, service, input, options.linesPerChunk);
  for (const chunk of plan.chunks) {
    await processChunk(store, service, plan, chunk.index, options.batchSize);
    options.onProgress?.(chunk.index + 1, plan.chunks.length);
  }
  return (await finalizeJob(store, plan))!;
}

/** The manifest of a job, for `modelship batch-status`; a running job's chunksDone is counted live. */
export async function readManifest(store: BatchStore, model: string, job: string): Promise<Manifest | undefined> {
  const bytes = await store.read(`${jobPrefix(model, job)}manifest.json`);
  if (bytes === undefined) return undefined;
  const manifest = JSON.parse(Buffer.from(bytes).toString('utf8')) as Manifest;
  if (manifest.status === 'running') manifest.chunksDone = (await store.list(`${jobPrefix(model, job)}chunks/`)).filter((k) => k.endsWith('.stats.json')).length;
  return manifest;
}
