/**
 * The scheduled drift job: for each model, the captures of the last window (per version, under
 * captures/<model>/<version>/<date>/; or, for a SageMaker endpoint, SageMaker's own data capture
 * under captures/<model>/, compared with the live version's baseline), compared with that
 * version's baseline.json. It emits, per
 * feature, DriftPSI and DriftKS; per version, DriftRows; per model, DriftPSIMax (the largest PSI of
 * any feature and version), which the drift alarm watches.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { captureModelPrefix, capturePrefix } from '../core/capture-layout.ts';
import type { CoreLogger } from '../core/logger.ts';
import { MetricName } from '../observability/metrics.ts';
import type { MetricSink } from '../observability/telemetry.ts';
import { driftReport, rowsFromCaptures, SignalMismatch, type Baseline, type CapturedRow, type FeatureDrift } from './drift.ts';

/** What the job needs of the model store. */
export interface ObjectStore {
  read(key: string): Promise<Uint8Array | undefined>;
  list(prefix: string): Promise<string[]>;
}

export interface DriftTarget {
  readonly model: string;
  /** @default 0.2 */
  readonly psiThreshold?: number;
  /** @default 24 */
  readonly windowHours?: number;
  /** @default 100 */
  readonly minRows?: number;
  /**
   * The model runs on a SageMaker endpoint serving this version: its captures are SageMaker's
   * (captures/<model>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl). @default - a Lambda model
   */
  readonly sageMakerVersion?: number;
}

export interface DriftJobOptions {
  readonly store: ObjectStore;
  /** Where the model repository starts in the store, e.g. "models/". */
  readonly modelPrefix: string;
  readonly sink: MetricSink;
  readonly logger: CoreLogger;
  /** @default now */
  readonly now?: Date;
  /** Rows read per version at most (the most recent days first). @default 100000 */
  readonly maxRows?: number;
}

export interface VersionDrift {
  readonly version: number;
  readonly rows: number;
  /** Lines that were not capture records of this model (counted, skipped). */
  readonly skippedLines: number;
  readonly status: 'ok' | 'drift' | 'too_few_rows' | 'no_baseline';
  readonly features: readonly FeatureDrift[];
}

export interface ModelDrift {
  readonly model: string;
  readonly windowHours: number;
  readonly psiThreshold: number;
  readonly versions: readonly VersionDrift[];
  /** The largest PSI over features and versions with enough rows; undefined when none had. */
  readonly maxPsi?: number;
}

const HOUR_MS = 3_600_000;

/** UTC dates (yyyy-mm-dd) from the day before `since` to `now`, newest first. */
function daysBetween(since: Date, now: Date): string[] {
  const days: string[] = [];
  for (let t = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()); t >= since.getTime() - 24 * HOUR_MS; t -= 24 * HOUR_MS) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days;
}

/** The versions of a model in the repository: the numeric folders under <prefix><model>/. */
async function modelVersions(store: ObjectStore, modelPrefix: string, model: string): Promise<number[]> {
  const versions = new Set<number>();
  for (const key of await store.list(`${modelPrefix}${model}/`)) {
    const folder = key.slice(`${modelPrefix}${model}/`.length).split('/')[0];
    if (/^[1-9]\d*$/.test(folder) && key.endsWith('/baseline.json')) versions.add(Number(folder));
  }
  return [...versions].sort((a, b) => a - b);
}

/** Rows of one version's captures since `since`, newest days first, at most maxRows. */
async function capturedRows(store: ObjectStore, model: string, version: number, since: Date, now: Date, maxRows: number, baseline: Baseline): Promise<{ rows: CapturedRow[]; skippedLines: number }> {
  const rows: CapturedRow[] = [];
  let skippedLines = 0;
  for (const day of daysBetween(since, now)) {
    const keys = (await store.list(capturePrefix(model, version, day))).sort().reverse();
    for (const key of keys) {
      const bytes = await store.read(key);
      if (bytes === undefined) continue;
      for (const line of Buffer.from(bytes).toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        try {
          const record = JSON.parse(line) as { model?: string; version?: number; capturedAt?: string };
          if (record.model !== model || record.version !== version) throw new Error('not this model version');
          if (record.capturedAt === undefined || Date.parse(record.capturedAt) < since.getTime()) continue;
          rows.push(...rowsFromCaptures(line, key, baseline));
        } catch (error) {
          // A task's captures whose signals are not the baseline's features: the whole version is refused, naming them.
          if (error instanceof SignalMismatch) throw error;
          skippedLines++;
        }
        if (rows.length >= maxRows) return { rows: rows.slice(0, maxRows), skippedLines };
      }
    }
  }
  return { rows, skippedLines };
}

/** The hour folder (yyyy/mm/dd/hh) SageMaker writes a capture file under, as a time. */
function sageMakerFileHour(key: string): number | undefined {
  const match = /\/(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\/[^/]+$/.exec(key);
  return match === null ? undefined : Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]), Number(match[4]));
}

/**
 * The request bodies in SageMaker's data capture lines:
 * {"captureData": {"endpointInput": {"data", "encoding": "JSON"|"BASE64", ...}}, "eventMetadata": {"inferenceTime"}}.
 */
async function sageMakerRows(store: ObjectStore, model: string, since: Date, maxRows: number): Promise<{ rows: CapturedRow[]; skippedLines: number }> {
  const rows: CapturedRow[] = [];
  let skippedLines = 0;
  const keys = (await store.list(captureModelPrefix(model))).filter((key) => {
    const hour = sageMakerFileHour(key);
    return hour !== undefined && hour + HOUR_MS > since.getTime();
  });
  for (const key of keys.sort().reverse()) {
    const bytes = await store.read(key);
    if (bytes === undefined) continue;
    for (const line of Buffer.from(bytes).toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        const record = JSON.parse(line) as { captureData?: { endpointInput?: { data?: string; encoding?: string } }; eventMetadata?: { inferenceTime?: string } };
        const input = record.captureData?.endpointInput;
        if (input?.data === undefined) throw new Error('no endpointInput');
        if (Date.parse(record.eventMetadata?.inferenceTime ?? '') < since.getTime()) continue;
        const text = input.encoding === 'BASE64' ? Buffer.from(input.data, 'base64').toString('utf8') : input.data;
        rows.push(...rowsFromCaptures(JSON.stringify({ request: JSON.parse(text) }), key));
      } catch {
        skippedLines++; // binary tensor requests, or lines that are not captures
      }
      if (rows.length >= maxRows) return { rows: rows.slice(0, maxRows), skippedLines };
    }
  }
  return { rows, skippedLines };
}

export async function runDriftJob(targets: readonly DriftTarget[], options: DriftJobOptions): Promise<ModelDrift[]> {
  const now = options.now ?? new Date();
  const results: ModelDrift[] = [];
  for (const target of targets) {
    const windowHours = target.windowHours ?? 24;
    const psiThreshold = target.psiThreshold ?? 0.2;
    const minRows = target.minRows ?? 100;
    const since = new Date(now.getTime() - windowHours * HOUR_MS);
    const versions: VersionDrift[] = [];
    const versionsToCheck = target.sageMakerVersion !== undefined ? [target.sageMakerVersion] : await modelVersions(options.store, options.modelPrefix, target.model);
    for (const version of versionsToCheck) {
      const baselineBytes = await options.store.read(`${options.modelPrefix}${target.model}/${version}/baseline.json`);
      if (baselineBytes === undefined) {
        versions.push({ version, rows: 0, skippedLines: 0, status: 'no_baseline', features: [] });
        continue;
      }
      const baseline = JSON.parse(Buffer.from(baselineBytes).toString('utf8')) as Baseline;
      const maxRows = options.maxRows ?? 100_000;
      let captured: { rows: CapturedRow[]; skippedLines: number };
      try {
        captured = target.sageMakerVersion !== undefined ? await sageMakerRows(options.store, target.model, since, maxRows) : await capturedRows(options.store, target.model, version, since, now, maxRows, baseline);
      } catch (error) {
        if (!(error instanceof SignalMismatch)) throw error;
        options.logger.error('captures do not match the baseline', { model: target.model, version, cause: error.message });
        versions.push({ version, rows: 0, skippedLines: 0, status: 'no_baseline', features: [] });
        continue;
      }
      const { rows, skippedLines } = captured;
      const perVersion = { Model: target.model, Version: String(version) };
      if (rows.length === 0 && skippedLines === 0) continue; // no traffic captured for this version
      options.sink(perVersion, [[MetricName.driftRows, MetricUnit.Count, rows.length]]);
      if (rows.length < minRows) {
        versions.push({ version, rows: rows.length, skippedLines, status: 'too_few_rows', features: [] });
        continue;
      }
      let features: FeatureDrift[];
      try {
        features = driftReport(baseline, rows, psiThreshold);
      } catch (error) {
        // Captures that do not fit the baseline (a row too short): reported, not guessed at.
        options.logger.error('captures do not match the baseline', { model: target.model, version, cause: (error as Error).message });
        versions.push({ version, rows: rows.length, skippedLines, status: 'no_baseline', features: [] });
        continue;
      }
      for (const f of features) {
        options.sink({ ...perVersion, Feature: f.name }, [
          [MetricName.driftPsi, MetricUnit.NoUnit, f.psi],
          [MetricName.driftKs, MetricUnit.NoUnit, f.ks],
        ]);
      }
      versions.push({ version, rows: rows.length, skippedLines, status: features.some((f) => f.drifted) ? 'drift' : 'ok', features });
    }
    const measured = versions.flatMap((v) => v.features.map((f) => f.psi));
    const maxPsi = measured.length > 0 ? Math.max(...measured) : undefined;
    if (maxPsi !== undefined) options.sink({ Model: target.model }, [[MetricName.driftPsiMax, MetricUnit.NoUnit, maxPsi]]);
    const drifted = versions.flatMap((v) => v.features.filter((f) => f.drifted).map((f) => `v${v.version} ${f.name} (PSI ${f.psi.toFixed(3)})`));
    const summary = { model: target.model, windowHours, psiThreshold, maxPsi, versions: versions.map(({ version, rows, skippedLines, status }) => ({ version, rows, skippedLines, status })) };
    if (drifted.length > 0) options.logger.warn('input drift', { ...summary, drifted });
    else options.logger.info('drift checked', summary);
    results.push({ model: target.model, windowHours, psiThreshold, versions, maxPsi });
  }
  return results;
}
