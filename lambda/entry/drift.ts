/**
 * Lambda entry point of the scheduled drift job, in the inference image (CMD drift.handler).
 * EventBridge invokes it on a schedule with the models to check and their thresholds:
 * {"models": [{"model": "iris_forest", "psiThreshold": 0.2, "windowHours": 24, "minRows": 100}]}.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { runDriftJob, type DriftTarget, type ModelDrift } from '../jobs/drift-job.ts';
import { S3BatchStore } from '../stores/batch-store.ts';
import { coreLogger as logger } from '../observability/powertools.ts';
import { powertoolsSink } from '../observability/telemetry.ts';

const bucket = process.env.MODEL_BUCKET;
if (!bucket) throw new Error('MODEL_BUCKET is not set');
const store = new S3BatchStore(new S3Client(process.env.S3_ENDPOINT ? { endpoint: process.env.S3_ENDPOINT, forcePathStyle: true } : {}), bucket);
const sink = powertoolsSink();

export async function handler(event: { models?: DriftTarget[] }): Promise<ModelDrift[]> {
  if (!Array.isArray(event?.models) || event.models.some((m) => typeof m?.model !== 'string')) {
    throw new Error('drift job event must be {"models": [{"model": "<name>", ...}]}');
  }
  return runDriftJob(event.models, { store, modelPrefix: process.env.MODEL_PREFIX ?? '', sink, logger });
}
