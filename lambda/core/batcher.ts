/**
 * Dynamic batching, in Triton's terms (config.json "dynamicBatching"), for the long-running servers:
 * requests for one model version that arrive within maxQueueDelayMicroseconds of each other, and
 * that agree on everything but their first dimension (datatypes, the other dimensions, the outputs
 * asked for), are concatenated along dimension 0, run once, and the outputs split back per request.
 * A request over maxBatchSize runs alone. If a batched run fails, each request runs alone, so the
 * failure lands only on the request that caused it. Lambda never batches: an instance takes one
 * request at a time.
 */
import { Tensor, type InferenceSession } from 'onnxruntime-node';

export interface DynamicBatchingConfig {
  readonly maxBatchSize: number;
  readonly maxQueueDelayMicroseconds: number;
  readonly preferredBatchSizes?: readonly number[];
}

/** What the batcher reports per batch run, for metrics. */
export interface BatchRun {
  readonly requests: number;
  readonly rows: number;
  /** Microseconds the oldest request waited in the queue. */
  readonly queueDelayMicros: number;
}

interface Pending {
  readonly feeds: Record<string, Tensor>;
  readonly outputNames: string[];
  readonly rows: number;
  readonly queuedAt: number;
  resolve(results: Record<string, Tensor>): void;
  reject(error: unknown): void;
}

type Data = Tensor['data'];

/** Typed arrays (or string lists) end to end, of the tensor's own type. */
function concat(parts: readonly Data[]): Data {
  const first = parts[0];
  if (Array.isArray(first)) return (parts as string[][]).flat();
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new (first.constructor as new (n: number) => Exclude<Data, string[]>)(total);
  let offset = 0;
  for (const p of parts as Exclude<Data, string[]>[]) {
    (out as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(p as ArrayLike<unknown>, offset);
    offset += p.length;
  }
  return out;
}

interface Queue {
  items: Pending[];
  rows: number;
  /** Ready to run: full, at a preferred size, or its oldest request has waited maxQueueDelay. */
  due: boolean;
  timer?: NodeJS.Timeout;
}

/**
 * As Triton's dynamic batcher with an instance group: at most `instances` batches run at once (the
 * cores divided by each run's intra-op threads, so the cores stay busy), and while they all run the
 * queue keeps growing, so a busy server forms larger batches instead of runs that wait for a core.
 */
export class DynamicBatcher {
  private readonly queues = new Map<string, Queue>();
  private readonly session: InferenceSession;
  private readonly config: DynamicBatchingConfig;
  private readonly onBatch?: (run: BatchRun) => void;
  private readonly instances: number;
  private inFlight = 0;

  constructor(session: InferenceSession, config: DynamicBatchingConfig, onBatch?: (run: BatchRun) => void, instances = 1) {
    this.session = session;
    this.config = config;
    this.onBatch = onBatch;
    this.instances = Math.max(1, Math.floor(instances));
  }

  /** Runs one request's feeds, batched with others that can share its run. */
  run(feeds: Record<string, Tensor>, outputNames: string[]): Promise<Record<string, Tensor>> {
    const tensors = Object.entries(feeds).sort(([a], [b]) => a.localeCompare(b));
    const rows = tensors[0]?.[1].dims[0] ?? 0;
    if (rows === 0 || rows > this.config.maxBatchSize || tensors.some(([, t]) => t.dims[0] !== rows)) return this.session.run(feeds, outputNames) as Promise<Record<string, Tensor>>;
    // Requests share a batch only when all but their first dimension agree, and they ask for the same outputs.
    const key = `${tensors.map(([name, t]) => `${name}:${t.type}:${t.dims.slice(1).join('x')}`).join('|')}>${[...outputNames].sort().join(',')}`;
    return new Promise((resolve, reject) => {
      let queue = this.queues.get(key);
      if (queue === undefined) this.queues.set(key, (queue = { items: [], rows: 0, due: false }));
      queue.items.push({ feeds, outputNames, rows, queuedAt: performance.now(), resolve, reject });
      queue.rows += rows;
      this.schedule(queue, 0);
      this.dispatch();
    });
  }

  /** Marks the queue due when it is full or at a preferred size, or times its oldest request's delay. */
  private schedule(queue: Queue, waitedMs: number): void {
    if (queue.rows >= this.config.maxBatchSize || this.config.preferredBatchSizes?.includes(queue.rows) === true || waitedMs * 1000 >= this.config.maxQueueDelayMicroseconds) {
      clearTimeout(queue.timer);
      queue.timer = undefined;
      queue.due = true;
    } else {
      queue.timer ??= setTimeout(() => {
        queue.timer = undefined;
        queue.due = true;
        this.dispatch();
        // Node's timers fire on whole milliseconds of a loop clock that lags, up to a millisecond late:
        // asking one less keeps maxQueueDelay a maximum, as it is in Triton.
      }, Math.max(1, Math.ceil(this.config.maxQueueDelayMicroseconds / 1000 - waitedMs) - 1));
    }
  }

  /** Starts the oldest due batches while an instance is free. */
  private dispatch(): void {
    while (this.inFlight < this.instances) {
      let key: string | undefined;
      let queue: Queue | undefined;
      for (const [k, q] of this.queues) if (q.due && (queue === undefined || q.items[0].queuedAt < queue.items[0].queuedAt)) [key, queue] = [k, q];
      if (key === undefined || queue === undefined) return;
      // The oldest requests, up to maxBatchSize rows; the rest wait for the next free instance.
      let rows = 0;
      let count = 0;
      while (count < queue.items.length && rows + queue.items[count].rows <= this.config.maxBatchSize) rows += queue.items[count++].rows;
      const items = queue.items.splice(0, count);
      queue.rows -= rows;
      queue.due = false;
      if (queue.items.length === 0) {
        clearTimeout(queue.timer);
        this.queues.delete(key);
      } else {
        this.schedule(queue, performance.now() - queue.items[0].queuedAt);
      }
      this.inFlight++;
      void this.runBatch(items, rows).finally(() => {
        this.inFlight--;
        this.dispatch();
      });
    }
  }

  private async runBatch(items: readonly Pending[], rows: number): Promise<void> {
    const queueDelayMicros = (performance.now() - Math.min(...items.map((i) => i.queuedAt))) * 1000;
    if (items.length === 1) {
      await this.runAlone(items[0]);
      this.onBatch?.({ requests: 1, rows, queueDelayMicros });
      return;
    }
    let results: Record<string, Tensor>;
    try {
      const feeds: Record<string, Tensor> = {};
      for (const name of Object.keys(items[0].feeds)) {
        const first = items[0].feeds[name];
        feeds[name] = new Tensor(first.type as 'float32', concat(items.map((i) => i.feeds[name].data)) as Float32Array, [rows, ...first.dims.slice(1)]);
      }
      results = (await this.session.run(feeds, items[0].outputNames)) as Record<string, Tensor>;
      if (Object.values(results).some((t) => t.dims[0] !== rows)) throw new Error('an output does not keep the batch dimension');
    } catch {
      // One request may have caused it: each runs alone, and only that one fails.
      for (const item of items) await this.runAlone(item);
      this.onBatch?.({ requests: items.length, rows, queueDelayMicros });
      return;
    }
    let offset = 0;
    for (const item of items) {
      const split: Record<string, Tensor> = {};
      for (const [name, tensor] of Object.entries(results)) {
        const width = tensor.data.length / rows;
        const data = tensor.data as Data;
        const slice = Array.isArray(data) ? data.slice(offset * width, (offset + item.rows) * width) : (data as Float32Array).slice(offset * width, (offset + item.rows) * width);
        split[name] = new Tensor(tensor.type as 'float32', slice as Float32Array, [item.rows, ...tensor.dims.slice(1)]);
      }
      offset += item.rows;
      item.resolve(split);
    }
    this.onBatch?.({ requests: items.length, rows, queueDelayMicros });
  }

  private async runAlone(item: Pending): Promise<void> {
    try {
      item.resolve((await this.session.run(item.feeds, item.outputNames)) as Record<string, Tensor>);
    } catch (error) {
      item.reject(error);
    }
  }
}
