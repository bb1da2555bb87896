/**
 * Lambda entry of the pre-traffic hook. Environment: TARGET_FUNCTION (the new version's ARN),
 * CHECKS (JSON list of {model, version, threshold?}), MODEL_BUCKET, MODEL_PREFIX.
 */
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { GateResult, GateThreshold } from '../jobs/golden-gate.ts';
import { S3Source } from '../stores/s3-source.ts';
import { logger } from '../observability/powertools.ts';
import { checkNewVersion, reportToCodeDeploy } from '../jobs/pre-traffic-hook.ts';

const env = process.env;
const codeDeploy = new CodeDeployClient({});
const lambda = new LambdaClient({});
const source = new S3Source({ bucket: env.MODEL_BUCKET!, prefix: env.MODEL_PREFIX });
const checks = JSON.parse(env.CHECKS ?? '[]') as { model: string; version: number; threshold?: GateThreshold }[];

export async function handler(event: { DeploymentId: string; LifecycleEventHookExecutionId: string }): Promise<void> {
  const problems: string[] = [];
  for (const check of checks) {
    let result: GateResult;
    try {
      result = await checkNewVersion({ ...check, source, lambda, targetFunction: env.TARGET_FUNCTION! });
    } catch (error) {
      result = { passed: false, problems: [`the check itself failed: ${(error as Error).message}`], metrics: {} };
    }
    logger[result.passed ? 'info' : 'error']('golden gate', { model: check.model, version: check.version, ...result });
    problems.push(...result.problems.map((p) => `${check.model} v${check.version}: ${p}`));
  }
  await reportToCodeDeploy(codeDeploy, event, { passed: problems.length === 0, problems, metrics: {} });
}
