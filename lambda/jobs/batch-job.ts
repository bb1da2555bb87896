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
import { textRow, type TabularModel } from '../core/tasks/tabular.ts';
import { takesImages } from '../core/tasks/registry.ts';
import { describeError, isInferenceError } from '../core/errors.ts';
import type { InferenceService } from '../core/inference-service.ts';
import type { BatchStore } from '../stores/batch-store.ts';

/** JSON Lines, CSV, or (image models) a folder of image files started by a `<folder>.images` marker. */
export type BatchFormat = 'jsonl' | 'csv' | 'images';

export interface ChunkPlan {
  readonly index: number;
  /** Byte range [start, end) of the input. */
  readonly start: number;
  readonly end: number;
  /** 1-based number of the chunk's first line. */
  readonly firstLine: number;
  readonly lines: number;
  /** The chunk is one line over the line limit: it is answered as an error, never read. */
  readonly oversized?: true;
  /** An image folder's chunk: its image files (line numbers count images in the folder's order). */
  readonly keys?: readonly string[];
}

/** How a job is cut: by lines and by bytes, with bounded lines and CSV header, so memory is bounded for any input. */
export interface PlanLimits {
  /** @default 5000 */
  readonly linesPerChunk?: number;
  /** A chunk ends at the first line boundary past this many bytes. @default 8 MiB */
  readonly maxChunkBytes?: number;
  /** Longer lines are not read: each becomes an errors.jsonl entry. @default 1 MiB */
  readonly maxLineBytes?: number;
  /** A longer CSV header fails the job, naming the limit. @default 64 KiB */
  readonly maxHeaderBytes?: number;
}

export const PLAN_DEFAULTS = { linesPerChunk: 5000, maxChunkBytes: 8 * 1024 * 1024, maxLineBytes: 1024 * 1024, maxHeaderBytes: 64 * 1024 } as const;

/** A problem with the input file itself (its name, its CSV header): the job fails with it, nothing is retried. */
export class BatchInputError extends Error {}

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
  status: 'running' | 'succeeded' | 'completed_with_errors' | 'failed';
  /** Why a failed job failed (a problem with the input file). */
  error?: string;
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

/** Image files an image folder job scores. */
export const IMAGE_FILE = /\.(jpe?g|png|webp)$/i;
/** Images per chunk of an image folder job. */
export const IMAGES_PER_CHUNK = 64;

/**
 * The model and format of an input key: batch/input/<model>/<file>.(jsonl|json|ndjson|csv), or
 * batch/input/<model>/<folder>.images, the marker that starts a job over the images uploaded under
 * batch/input/<model>/<folder>/.
 */
export function describeInput(key: string): { model: string; format: BatchFormat; folder?: string } {
  const images = /^batch\/input\/([^/]+)\/([^/]+)\.images$/i.exec(key);
  if (images !== null) return { model: images[1], format: 'images', folder: `${INPUT_PREFIX}${images[1]}/${images[2]}/` };
  const match = /^batch\/input\/([^/]+)\/[^/]+\.(jsonl|ndjson|json|csv)$/i.exec(key);
  if (match === null) throw new BatchInputError(`batch input "${key}" must be batch/input/<model>/<file>.jsonl or .csv, or <folder>.images after the folder's images`);
  return { model: match[1], format: match[2].toLowerCase() === 'csv' ? 'csv' : 'jsonl' };
}

/** Whether a key is an image inside a folder of a folder job: waiting for its marker, not an input of its own. */
export const isFolderImage = (key: string): boolean => /^batch\/input\/[^/]+\/[^/]+\/[^/]+$/.test(key) && IMAGE_FILE.test(key);

/**
 * A job id from the input key, its size and its ETag (or version): stable across retries of the same
 * upload, new for a new upload under the same name, even of the same size.
 */
export function jobId(key: string, size: number, etag: string): string {
  const base = key.split('/').pop()!.replace(/\.[^.]+$/, '').replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 48);
  return `${base}-${createHash('sha256').update(`${key}:${size}:${etag}`).digest('hex').slice(0, 10)}`;
}

export const jobPrefix = (model: string, job: string) => `${OUTPUT_PREFIX}${model}/${job}/`;
const chunkKey = (plan: { model: string; job: string }, index: number, kind: 'results' | 'errors' | 'stats') =>
  `${jobPrefix(plan.model, plan.job)}chunks/${String(index).padStart(6, '0')}.${kind}.${kind === 'stats' ? 'json' : 'jsonl'}`;

/**
 * Streams the input once, cutting it at line boundaries into chunks of at most `linesPerChunk` lines
 * and about `maxChunkBytes` bytes. A line over `maxLineBytes` becomes a chunk of its own that is never
 * read (an errors.jsonl entry); the CSV header is kept up to `maxHeaderBytes`. Memory stays constant
 * whatever the input holds.
 */
export async function planJob(store: BatchStore, input: string, limits: PlanLimits | number = {}): Promise<JobPlan> {
  const { linesPerChunk, maxChunkBytes, maxLineBytes, maxHeaderBytes } = { ...PLAN_DEFAULTS, ...(typeof limits === 'number' ? { linesPerChunk: limits } : limits) };
  const { model, format, folder } = describeInput(input);
  const { etag } = await store.head(input);
  if (folder !== undefined) {
    const keys = (await store.list(folder)).filter((k) => IMAGE_FILE.test(k) && !k.slice(folder.length).includes('/')).sort();
    if (keys.length === 0) throw new BatchInputError(`${input}: no JPEG, PNG or WebP images under ${folder}; upload the images first, then the marker`);
    const chunks: ChunkPlan[] = [];
    for (let i = 0; i < keys.length; i += IMAGES_PER_CHUNK) chunks.push({ index: chunks.length, start: 0, end: 0, firstLine: i + 1, lines: Math.min(IMAGES_PER_CHUNK, keys.length - i), keys: keys.slice(i, i + IMAGES_PER_CHUNK) });
    // The job id covers the listing too: the same marker over other images is another job.
    return { job: jobId(input, keys.length, `${etag}:${createHash('sha256').update(keys.join('\n')).digest('hex')}`), model, input, format, chunks, lines: keys.length };
  }
  const chunks: ChunkPlan[] = [];
  let offset = 0;
  let line = 0;
  let lineStart = 0;
  let chunkStart = 0;
  let chunkFirstLine = 1;
  let header: string | undefined;
  const headerParts: Buffer[] = [];
  let headerBytes = 0;
  const close = (end: number) => {
    const lines = line - chunkFirstLine + 1;
    if (end > chunkStart && lines > 0) chunks.push({ index: chunks.length, start: chunkStart, end, firstLine: chunkFirstLine, lines });
    chunkStart = end;
    chunkFirstLine = line + 1;
  };
  /** One complete line [lineStart, end), line number `line`. */
  const endLine = (end: number) => {
    if (format === 'csv' && header === undefined) {
      header = Buffer.concat(headerParts).toString('utf8').replace(/\r?\n$/, '').replace(/\r$/, '');
      chunkStart = end;
      chunkFirstLine = line + 1;
    } else if (end - lineStart > maxLineBytes) {
      line -= 1;
      close(lineStart);
      line += 1;
      chunks.push({ index: chunks.length, start: lineStart, end, firstLine: line, lines: 1, oversized: true });
      chunkStart = end;
      chunkFirstLine = line + 1;
    } else if (line - chunkFirstLine + 1 >= linesPerChunk || end - chunkStart >= maxChunkBytes) close(end);
    lineStart = end;
  };
  for await (const chunk of store.stream(input)) {
    const part = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let from = 0;
    while (from < part.length) {
      const newline = part.indexOf(0x0a, from);
      const to = newline === -1 ? part.length : newline + 1;
      if (format === 'csv' && header === undefined) {
        headerBytes += to - from;
        if (headerBytes > maxHeaderBytes) throw new BatchInputError(`${input}: the CSV header line is over ${maxHeaderBytes} bytes; is the file CSV with a header and newline-separated rows?`);
        headerParts.push(part.subarray(from, to));
      }
      if (newline === -1) break;
      line += 1;
      endLine(offset + to);
      from = to;
    }
    offset += part.length;
  }
  if (offset > lineStart) {
    line += 1; // a last line without a newline
    endLine(offset);
  }
  if (format === 'csv' && header === undefined) throw new BatchInputError(`${input}: a CSV batch input needs a header line`);
  close(offset);
  return { job: jobId(input, offset, etag), model, input, format, header, chunks, lines: line };
}

type Row = { line: number; value: unknown } | { line: number; request: unknown } | { line: number; error: string };

function parseLine(text: string, line: number, format: BatchFormat, columns: string[] | undefined, tabular: TabularModel | undefined): Row | undefined {
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
    // A converted model's features by the header's names: text cells for categories, empty cells missing.
    if (tabular !== undefined) return { line, value: textRow(tabular, columns!, cells) };
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

/**
 * Whether a failure is the service's, not the line's (the model or store unavailable): the chunk
 * fails and is retried. Anything else a line causes, whatever it holds, is that line's error.
 */
const notTheLinesFault = (error: unknown): boolean => isInferenceError(error) && error.statusCode >= 500;

/** A line's error for errors.jsonl: the core's message, or what went wrong with a line nothing else caught. */
const lineError = (error: unknown): string => (isInferenceError(error) ? error.message : `could not be scored: ${describeError(error)}`);

/** Scores one chunk: rows in batches of `batchSize` (bad rows isolated with their reason), v2 requests one by one. */
export async function scoreLines(service: InferenceService, model: string, text: string, firstLine: number, format: BatchFormat, header: string | undefined, batchSize: number) {
  const columns = format === 'csv' ? ((parseCsv(header ?? '') as string[][])[0] ?? []) : undefined;
  const loaded = await service.loadModel(model);
  const rows = text.split('\n').map((t, i) => parseLine(t, firstLine + i, format, columns, loaded.tabular)).filter((r): r is Row => r !== undefined);
  const results: { line: number; text: string }[] = [];
  const errors: { line: number; text: string }[] = [];
  const fail = (line: number, error: string) => errors.push({ line, text: JSON.stringify({ line, error }) });
  const scoreRows = async (batch: { line: number; value: unknown }[]): Promise<void> => {
    try {
      const answer = JSON.parse(await service.predict(loaded, { instances: batch.map((r) => r.value) })) as { predictions: unknown[] };
      batch.forEach((r, i) => results.push({ line: r.line, text: `{"line":${r.line},"prediction":${JSON.stringify(answer.predictions[i])}}` }));
    } catch (error) {
      if (notTheLinesFault(error)) throw error;
      if (batch.length === 1) fail(batch[0].line, lineError(error));
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
        if (notTheLinesFault(error)) throw error;
        fail(row.line, lineError(error));
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

/** Scores an image folder chunk, 16 images a run; an image that cannot be read or scored is an error line naming its file. */
async function scoreImages(store: BatchStore, service: InferenceService, model: string, keys: readonly string[], firstLine: number) {
  const loaded = await service.loadModel(model);
  const results: { line: number; text: string }[] = [];
  const errors: { line: number; text: string }[] = [];
  const score = async (batch: { line: number; key: string; bytes: Uint8Array }[]): Promise<void> => {
    try {
      const answer = JSON.parse(await service.predict(loaded, { instances: batch.map((b) => ({ b64: Buffer.from(b.bytes).toString('base64') })) })) as { predictions: unknown[] };
      batch.forEach((b, i) => results.push({ line: b.line, text: JSON.stringify({ line: b.line, file: b.key, prediction: answer.predictions[i] }) }));
    } catch (error) {
      if (notTheLinesFault(error)) throw error;
      if (batch.length === 1) errors.push({ line: batch[0].line, text: JSON.stringify({ line: batch[0].line, file: batch[0].key, error: lineError(error) }) });
      else for (const one of batch) await score([one]);
    }
  };
  for (let i = 0; i < keys.length; i += 16) {
    const batch = [];
    for (const [j, key] of keys.slice(i, i + 16).entries()) {
      const bytes = await store.read(key);
      if (bytes === undefined) errors.push({ line: firstLine + i + j, text: JSON.stringify({ line: firstLine + i + j, file: key, error: 'the image is gone from the store' }) });
      else batch.push({ line: firstLine + i + j, key, bytes });
    }
    if (batch.length > 0) await score(batch);
  }
  const byLine = (a: { line: number }, b: { line: number }) => a.line - b.line;
  return { results: results.sort(byLine), errors: errors.sort(byLine) };
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
  const { results, errors }: { results: { line: number; text: string }[]; errors: { line: number; text: string }[] } = chunk.oversized
    ? { results: [], errors: [{ line: chunk.firstLine, text: JSON.stringify({ line: chunk.firstLine, error: `line is ${chunk.end - chunk.start} bytes, over the batch line limit; split it into smaller rows or requests` }) }] }
    : chunk.keys !== undefined
      ? await scoreImages(store, service, plan.model, chunk.keys, chunk.firstLine)
      : await scoreLines(service, plan.model, Buffer.from(await store.readRange(plan.input, chunk.start, chunk.end)).toString('utf8'), chunk.firstLine, plan.format, plan.header, batchSize);
  const lines = (items: { text: string }[]) => items.map((r) => `${r.text}\n`).join('');
  await store.write(chunkKey(plan, index, 'results'), lines(results));
  await store.write(chunkKey(plan, index, 'errors'), lines(errors));
  const stats: ChunkStats = { index, rows: results.length + errors.length, succeeded: results.length, failed: errors.length, millis: performance.now() - started };
  // Written last, and only if absent: its presence marks the chunk done.
  return store.write(statsKey, JSON.stringify(stats), { ifAbsent: true });
}

/**
 * Starts a job: plans it and records a running manifest (and the plan, for the workers). A problem
 * with the input file itself records a failed manifest naming it, then throws a BatchInputError.
 */
export async function startJob(store: BatchStore, service: InferenceService, input: string, limits?: PlanLimits | number): Promise<JobPlan> {
  let plan: JobPlan;
  try {
    plan = await planJob(store, input, limits);
  } catch (error) {
    if (error instanceof BatchInputError) await recordFailedJob(store, input, error);
    throw error;
  }
  const prefix = jobPrefix(plan.model, plan.job);
  const model = await service.loadModel(plan.model);
  if (plan.format === 'images' && !takesImages(model.task)) {
    const error = new BatchInputError(`${input}: model "${plan.model}" does not take images; an image folder job needs an image model`);
    await recordFailedJob(store, input, error);
    throw error;
  }
  await store.write(`${prefix}plan.json`, JSON.stringify(plan));
  const manifest: Manifest = {
    job: plan.job, model: plan.model, version: String(model.version), input, format: plan.format, status: 'running', chunks: plan.chunks.length, chunksDone: 0,
    rows: 0, succeeded: 0, failed: 0, startedAt: new Date().toISOString(), results: `${prefix}results.jsonl`, errors: `${prefix}errors.jsonl`,
  };
  await store.write(`${prefix}manifest.json`, JSON.stringify(manifest, null, 2), { ifAbsent: true });
  return plan;
}

async function recordFailedJob(store: BatchStore, input: string, error: BatchInputError): Promise<void> {
  let where: { model: string; format: BatchFormat };
  try {
    where = describeInput(input);
  } catch {
    return; // not a batch input at all: there is no job to record
  }
  const { size, etag } = await store.head(input);
  const job = jobId(input, size, etag);
  const prefix = jobPrefix(where.model, job);
  const manifest: Manifest = {
    job, model: where.model, input, format: where.format, status: 'failed', error: error.message, chunks: 0, chunksDone: 0, rows: 0, succeeded: 0, failed: 0,
    startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(), results: `${prefix}results.jsonl`, errors: `${prefix}errors.jsonl`,
  };
  await store.write(`${prefix}manifest.json`, JSON.stringify(manifest, null, 2));
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
export async function runJob(store: BatchStore, service: InferenceService, input: string, options: PlanLimits & { batchSize?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<Manifest> {
  let plan: JobPlan;
  try {
    plan = await startJob(store, service, input, options);
  } catch (error) {
    if (!(error instanceof BatchInputError)) throw error;
    const { size, etag } = await store.head(input);
    const { model } = describeInput(input);
    return (await readManifest(store, model, jobId(input, size, etag)))!;
  }
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
