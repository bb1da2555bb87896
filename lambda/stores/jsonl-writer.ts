/**
 * Batched appends of JSON lines to files: records wait in memory and go out together every
 * `intervalMs` or every `maxRecords`, so the request that produced one never waits on the disk,
 * and a failing disk costs records (counted, logged once per failure) but never a request.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CoreLogger } from '../core/logger.ts';

export interface JsonlWriterOptions {
  /** @default 1000 */
  readonly intervalMs?: number;
  /** @default 500 */
  readonly maxRecords?: number;
  readonly logger?: CoreLogger;
}

export class JsonlWriter {
  private pending = new Map<string, string[]>();
  private count = 0;
  private flushing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private readonly maxRecords: number;
  private readonly logger?: CoreLogger;
  /** Records that could not be written. */
  dropped = 0;

  constructor(options: JsonlWriterOptions = {}) {
    this.maxRecords = options.maxRecords ?? 500;
    this.logger = options.logger;
    this.timer = setInterval(() => void this.flush(), options.intervalMs ?? 1000);
    this.timer.unref();
  }

  /** Queues one record (a JSON text without newline) for `file`. */
  append(file: string, line: string): void {
    let lines = this.pending.get(file);
    if (lines === undefined) this.pending.set(file, (lines = []));
    lines.push(line);
    if (++this.count >= this.maxRecords) void this.flush();
  }

  /** Writes everything queued so far; resolves when it is on disk (or counted as dropped). */
  flush(): Promise<void> {
    if (this.count === 0) return this.flushing;
    const batch = this.pending;
    this.pending = new Map();
    this.count = 0;
    // One flush at a time, in order, so lines of a file never interleave out of order.
    this.flushing = this.flushing.then(async () => {
      for (const [file, lines] of batch) {
        try {
          await mkdir(dirname(file), { recursive: true });
          await appendFile(file, `${lines.join('\n')}\n`);
        } catch (error) {
          this.dropped += lines.length;
          this.logger?.warn('could not write records; they are dropped', { file, records: lines.length, cause: (error as Error).message });
        }
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
