/**
 * Where sampled captures go. In Lambda, one line on stdout: CloudWatch Logs keeps it, and a
 * subscription filter hands capture lines to Firehose, which writes them under
 * captures/<model>/<version>/<date>/ in the model store. A write to stdout costs the request
 * microseconds, needs no network call and cannot fail it. Locally, the same lines are appended in
 * batches to files laid out the same way.
 */
import { join } from 'node:path';
import type { PendingCapture } from '../core/capture.ts';
import { capturePrefix } from '../core/capture-layout.ts';
import type { JsonlWriter } from '../stores/jsonl-writer.ts';
import type { Telemetry } from './telemetry.ts';

/** The marker field the log subscription filter selects capture lines by: {"modelship": "capture", ...}. */
export const CAPTURE_MARKER = { modelship: 'capture' } as const;
/** The subscription filter pattern matching capture lines. */
export const CAPTURE_FILTER_PATTERN = '{ $.modelship = "capture" }';

/** The core's onCapture hook: encode the record, skip it (counted) when over the model's limit, else write it. */
export function captureHook(telemetry: Telemetry, write: (capture: PendingCapture, line: string) => void): (capture: PendingCapture) => void {
  return (capture) => {
    try {
      const line = capture.encode(CAPTURE_MARKER);
      if (Buffer.byteLength(line) > capture.maxRecordBytes) {
        telemetry.capture(capture.model, capture.version, false);
        return;
      }
      write(capture, line);
      telemetry.capture(capture.model, capture.version, true);
    } catch {
      // A capture must never fail the request it copies.
      telemetry.capture(capture.model, capture.version, false);
    }
  };
}

/** Lambda: one line on stdout (not console.log, which Lambda's JSON log format would wrap). */
export const stdoutCaptureWriter = (_capture: PendingCapture, line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** Local: batched appends under <directory>/captures/<model>/<version>/<date>/captures.jsonl. */
export function fileCaptureWriter(directory: string, writer: JsonlWriter) {
  return (capture: PendingCapture, line: string): void => {
    writer.append(join(directory, capturePrefix(capture.model, capture.version, new Date()), 'captures.jsonl'), line);
  };
}
