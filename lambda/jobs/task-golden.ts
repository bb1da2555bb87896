/**
 * The golden gate of a task model whose golden.json is in the any-task form (task, requests,
 * expected): each request run through the task path of the version under test, each answer checked
 * with the task module's `compare`. It runs where the modules are: in the model function (the
 * pre-traffic hook invokes it with {"modelshipGolden": {model, version}}), the local server and tests.
 */
import type { InferenceService } from '../core/inference-service.ts';
import { evaluateTaskAnswers, isRequestsGolden, isTaskGolden, type GateResult, type GateThreshold, type GoldenFile, type TaskGoldenFile } from './golden-gate.ts';

/** Reads a version's golden.json and gates the version on it; a file in another form is refused, naming the form. */
export async function runTaskGolden(service: InferenceService, model: string, version: number, threshold?: GateThreshold): Promise<GateResult> {
  const bytes = await service.repository.source.readFile(`${model}/${version}/golden.json`);
  if (bytes === undefined) return { passed: false, problems: [`no golden file at ${model}/${version}/golden.json in ${service.repository.source.location}`], metrics: {} };
  const golden = JSON.parse(Buffer.from(bytes).toString('utf8')) as GoldenFile | TaskGoldenFile;
  if (!isTaskGolden(golden) || !isRequestsGolden(golden)) return { passed: false, problems: [`${model}/${version}/golden.json is not in the task form ({"task", "requests", "expected", "tolerance"})`], metrics: {} };
  return gateTaskAnswers(service, model, version, golden, threshold);
}

/** Runs each golden request on the version and checks the answers with its task module's compare. */
export async function gateTaskAnswers(service: InferenceService, model: string, version: number, golden: TaskGoldenFile & { requests: readonly unknown[] }, threshold?: GateThreshold): Promise<GateResult> {
  const loaded = await service.loadModel(model, String(version));
  if (loaded.task === undefined) return { passed: false, problems: [`${model} v${version} is not a task model, but its golden.json names task "${golden.task}"`], metrics: {} };
  if (golden.task !== undefined && golden.task !== loaded.task.module.name) return { passed: false, problems: [`golden.json names task "${golden.task}", but ${model} v${version} serves ${loaded.task.module.name}`], metrics: {} };
  const answers: unknown[] = [];
  for (const [i, body] of golden.requests.entries()) {
    try {
      const answer = await service.runTaskInput(loaded, { kind: 'json', route: 'infer', body: body as Record<string, unknown> });
      answers.push(answer === undefined ? undefined : JSON.parse(answer.json));
    } catch (error) {
      return { passed: false, problems: [`golden request ${i} failed: ${(error as Error).message}`], metrics: {} };
    }
  }
  const module = loaded.task.module;
  const result = evaluateTaskAnswers(golden, answers, (e, a, t) => module.compare(e, a, t));
  const agreement = result.metrics.accuracy ?? 0;
  if (threshold?.metric === 'accuracy' && threshold.min !== undefined && agreement < threshold.min) {
    return { ...result, passed: false, problems: [...result.problems, `accuracy ${agreement.toFixed(4)} is below the minimum ${threshold.min}`] };
  }
  return result;
}

/** The event the pre-traffic hook sends the new function version for a task model's golden gate. */
export interface GoldenEvent {
  readonly modelshipGolden: { readonly model: string; readonly version: number; readonly threshold?: GateThreshold };
}

export const isGoldenEvent = (event: unknown): event is GoldenEvent => typeof event === 'object' && event !== null && 'modelshipGolden' in event;

/** Answers a GoldenEvent in the model function: the gate's result, which the hook reports. */
export const answerGoldenEvent = (service: InferenceService, { modelshipGolden: { model, version, threshold } }: GoldenEvent): Promise<GateResult> => runTaskGolden(service, model, version, threshold);
