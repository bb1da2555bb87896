/**
 * CodeDeploy's pre-traffic hook for a model function: before any traffic shifts, it invokes the
 * new function version with the model's golden rows (read from the model store) and reports
 * Succeeded only when the golden gate passes; otherwise the deployment fails and nothing shifts.
 */
import { CodeDeployClient, PutLifecycleEventHookExecutionStatusCommand } from '@aws-sdk/client-codedeploy';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { ModelSource } from '../core/model-source.ts';
import type { GoldenEvent } from './task-golden.ts';
import { evaluateGolden, goldenInferRequest, isRequestsGolden, type GateResult, type GateThreshold, type GoldenFile, type TaskGoldenFile } from './golden-gate.ts';

export interface PreTrafficCheck {
  readonly source: ModelSource;
  readonly lambda: LambdaClient;
  /** ARN of the new function version. */
  readonly targetFunction: string;
  readonly model: string;
  readonly version: number;
  readonly threshold?: GateThreshold;
}

/** Invokes the new version with the golden rows, as API Gateway would, and applies the gate. */
export async function checkNewVersion(check: PreTrafficCheck): Promise<GateResult> {
  const bytes = await check.source.readFile(`${check.model}/${check.version}/golden.json`);
  if (bytes === undefined) return { passed: false, problems: [`no golden file at ${check.model}/${check.version}/golden.json in ${check.source.location}`], metrics: {} };
  const golden = JSON.parse(Buffer.from(bytes).toString('utf8')) as GoldenFile | TaskGoldenFile;
  if (isRequestsGolden(golden)) {
    // A task's golden answers are checked by its module's compare, which the model function has: it runs the gate itself (task-golden.ts).
    const answer = await check.lambda.send(new InvokeCommand({ FunctionName: check.targetFunction, Payload: Buffer.from(JSON.stringify({ modelshipGolden: { model: check.model, version: check.version, threshold: check.threshold } } satisfies GoldenEvent)) }));
    if (answer.FunctionError !== undefined) return { passed: false, problems: [`the new version failed: ${Buffer.from(answer.Payload ?? []).toString('utf8')}`], metrics: {} };
    return JSON.parse(Buffer.from(answer.Payload ?? []).toString('utf8')) as GateResult;
  }
  const path = `/v2/models/${check.model}/versions/${check.version}/infer`;
  const event = { httpMethod: 'POST', path, resource: path, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(goldenInferRequest(golden)), isBase64Encoded: false, requestContext: { stage: 'pre-traffic-hook' } };
  const answer = await check.lambda.send(new InvokeCommand({ FunctionName: check.targetFunction, Payload: Buffer.from(JSON.stringify(event)) }));
  if (answer.FunctionError !== undefined) return { passed: false, problems: [`the new version failed: ${Buffer.from(answer.Payload ?? []).toString('utf8')}`], metrics: {} };
  const result = JSON.parse(Buffer.from(answer.Payload ?? []).toString('utf8')) as { statusCode: number; body: string };
  if (result.statusCode !== 200) return { passed: false, problems: [`the new version answered ${result.statusCode}: ${result.body}`], metrics: {} };
  return evaluateGolden(golden, JSON.parse(result.body), check.threshold);
}

/** Reports the gate's verdict to CodeDeploy. */
export async function reportToCodeDeploy(client: CodeDeployClient, event: { DeploymentId: string; LifecycleEventHookExecutionId: string }, result: GateResult): Promise<void> {
  await client.send(
    new PutLifecycleEventHookExecutionStatusCommand({
      deploymentId: event.DeploymentId,
      lifecycleEventHookExecutionId: event.LifecycleEventHookExecutionId,
      status: result.passed ? 'Succeeded' : 'Failed',
    }),
  );
}
