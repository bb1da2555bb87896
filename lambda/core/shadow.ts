/**
 * Shadow versions: a copy of live requests goes to a candidate version, off the request path; the
 * two answers are compared and only the comparison is reported.
 */
import type { ModelRepository } from './model-repository.ts';
import { runInfer } from './infer.ts';
import { runPredict } from './predict.ts';
import { jsonTaskInput, parseTask, runTask } from './tasks/task-run.ts';
import type { TaskInput } from './tasks/task.ts';
import type { InferenceObservers } from './session-run.ts';
import type { LoadedModel } from './sessions.ts';

/** A copy of a live request for the shadow version, to be run off the request path. */
export interface ShadowJob {
  readonly model: string;
  readonly liveVersion: number;
  readonly shadowVersion: number;
  readonly kind: 'infer' | 'predict';
  readonly body: unknown;
  /** A raw body (an image, a text) as the live task took it, base64 (the job travels as JSON to another invocation); `body` is then unused. */
  readonly raw?: { readonly contentType: string; readonly base64: string };
}

/** How the shadow version's answer compared with the live one. */
export interface ShadowResult {
  readonly model: string;
  readonly liveVersion: number;
  readonly shadowVersion: number;
  readonly agree: boolean;
  /** What differed, when they disagree: output name and first differing index. */
  readonly difference?: string;
}

/** The shadow job for a live answer, when the model has a shadow version and this request is sampled. */
export function shadowJobFor(model: LoadedModel, kind: 'infer' | 'predict', body: unknown, random: () => number = Math.random, raw?: Extract<TaskInput, { kind: 'raw' }>): ShadowJob | undefined {
  const shadow = model.config.shadow;
  if (shadow === undefined || shadow.version === model.version || random() * 100 >= shadow.percent) return undefined;
  return { model: model.name, liveVersion: model.version, shadowVersion: shadow.version, kind, body, ...(raw === undefined ? {} : { raw: { contentType: raw.contentType, base64: Buffer.from(raw.body).toString('base64') } }) };
}

/**
 * Runs a shadow job: the same request on the live and the shadow version, answers compared. Both
 * runs are inferences like any other for the observers (per-version metrics, capture).
 */
export async function runShadow(repository: ModelRepository, job: ShadowJob, observers?: InferenceObservers): Promise<ShadowResult> {
  const run = async (version: number) => {
    const model = await repository.load(job.model, version);
    // Task models: the body (or the raw body) as the version's module reads it, answered by the task path.
    const raw = job.raw === undefined ? undefined : ({ kind: 'raw', contentType: job.raw.contentType, body: Buffer.from(job.raw.base64, 'base64') } as const);
    const task = parseTask(model, raw ?? jsonTaskInput(job.body, job.kind));
    if (task === undefined && job.raw !== undefined) throw new Error(`version ${version} of "${job.model}" does not take the live version's ${job.raw.contentType} body`);
    const text = task !== undefined ? (await runTask(model, task, observers)).json : job.kind === 'infer' ? (await runInfer(model, job.body, undefined, observers)).json : await runPredict(model, job.body, observers);
    return { model, answer: JSON.parse(text) as Record<string, unknown> | unknown[] };
  };
  const [live, shadow] = [await run(job.liveVersion), await run(job.shadowVersion)];
  const difference = compareAnswers(live.answer, shadow.answer, live.model.config.labelOutput ?? 'label');
  return { model: job.model, liveVersion: job.liveVersion, shadowVersion: job.shadowVersion, agree: difference === undefined, difference };
}

/**
 * Compares two answers (v2 or :predict) of different versions: class labels must match exactly,
 * other numbers within 1e-3 absolute + 1e-2 relative. Returns what differed first, or undefined.
 */
export function compareAnswers(live: Record<string, unknown> | unknown[], shadow: Record<string, unknown> | unknown[], labelOutput: string): string | undefined {
  const close = (a: unknown, b: unknown): boolean =>
    typeof a === 'number' && typeof b === 'number' ? Math.abs(a - b) <= 1e-3 + 1e-2 * Math.abs(a) : JSON.stringify(a) === JSON.stringify(b);
  const flat = (v: unknown): unknown[] => (Array.isArray(v) ? v.flatMap(flat) : typeof v === 'object' && v !== null ? Object.values(v).flatMap(flat) : [v]);
  // Image and text answers ([{label, score}] per input, or embeddings): labels exactly, scores and values closely.
  if (Array.isArray(live) || Array.isArray(shadow)) {
    const [a, b] = [flat(live), flat(shadow)];
    const index = a.findIndex((v, i) => !close(v, b[i]));
    return index >= 0 || a.length !== b.length ? `answer value ${Math.max(index, 0)} differs: ${JSON.stringify(a[index])} vs ${JSON.stringify(b[index])}` : undefined;
  }
  if (Array.isArray(live.outputs) && Array.isArray(shadow.outputs)) {
    for (const output of live.outputs as { name: string; data: unknown[] }[]) {
      const other = (shadow.outputs as { name: string; data: unknown[] }[]).find((o) => o.name === output.name);
      if (other === undefined) return `output "${output.name}" missing from the shadow answer`;
      const exact = output.name === labelOutput;
      const index = output.data.findIndex((v, i) => (exact ? v !== other.data[i] : !close(v, other.data[i])));
      if (index >= 0 || output.data.length !== other.data.length) return `output "${output.name}" differs at index ${Math.max(index, 0)}: ${JSON.stringify(output.data[index])} vs ${JSON.stringify(other.data[index])}`;
    }
    return undefined;
  }
  const [a, b] = [flat(live.predictions), flat(shadow.predictions)];
  const index = a.findIndex((v, i) => !close(v, b[i]));
  return index >= 0 || a.length !== b.length ? `prediction value ${Math.max(index, 0)} differs: ${JSON.stringify(a[index])} vs ${JSON.stringify(b[index])}` : undefined;
}
