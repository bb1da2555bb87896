/**
 * Lambda entry points of batch prediction, in the inference image (CMD batch.splitHandler and
 * batch.chunkHandler). A file landing under batch/input/<model>/ (S3 event through EventBridge)
 * is planned and fanned out to SQS, one message per chunk; workers score chunks and the last one
 * finalises the job. Failed chunks are retried by SQS, then land in its dead-letter queue.
 */
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { S3Client } from '@aws-sdk/client-s3';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { BatchInputError, finalizeJob, isFolderImage, jobPrefix, PLAN_DEFAULTS, processChunk, startJob, type JobPlan, type PlanLimits } from '../jobs/batch-job.ts';
import { S3BatchStore } from '../stores/batch-store.ts';
import { coreLogger as logger } from '../observability/powertools.ts';
import { createRepository, createService, readRuntimeConfig } from './runtime-config.ts';

const config = readRuntimeConfig(process.env);
const service = createService(config, createRepository(config, logger), logger);
const store = new S3BatchStore(new S3Client({}), config.modelBucket!);
const sqs = new SQSClient({});
const positive = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got "${process.env[name]}"`);
  return value;
};
const LIMITS: PlanLimits = {
  linesPerChunk: positive('BATCH_LINES_PER_CHUNK', PLAN_DEFAULTS.linesPerChunk),
  maxChunkBytes: positive('BATCH_MAX_CHUNK_BYTES', PLAN_DEFAULTS.maxChunkBytes),
  maxLineBytes: positive('BATCH_MAX_LINE_BYTES', PLAN_DEFAULTS.maxLineBytes),
};
const BATCH_SIZE = Number(process.env.BATCH_SIZE ?? 256);

interface ObjectCreated {
  detail: { bucket: { name: string }; object: { key: string } };
}

export async function splitHandler(event: ObjectCreated): Promise<{ job: string; chunks: number } | { error: string }> {
  const input = decodeURIComponent(event.detail.object.key.replace(/\+/g, ' '));
  // Images of an image folder job wait for their folder's marker (<folder>.images) to start it.
  if (isFolderImage(input)) return { error: `${input} is part of an image folder; its job starts with the folder's .images marker` };
  let plan: JobPlan;
  try {
    plan = await startJob(store, service, input, LIMITS);
  } catch (error) {
    // A problem with the file itself (its name, its header): recorded in the job's manifest; retrying cannot help.
    if (!(error instanceof BatchInputError)) throw error;
    logger.error('batch input refused', { input, cause: error.message });
    return { error: error.message };
  }
  const messages = plan.chunks.map((chunk) => ({ Id: String(chunk.index), MessageBody: JSON.stringify({ model: plan.model, job: plan.job, index: chunk.index }) }));
  for (let i = 0; i < messages.length; i += 10) {
    const answer = await sqs.send(new SendMessageBatchCommand({ QueueUrl: process.env.CHUNK_QUEUE_URL, Entries: messages.slice(i, i + 10) }));
    if ((answer.Failed ?? []).length > 0) throw new Error(`could not queue chunks ${answer.Failed!.map((f) => f.Id).join(', ')} of job ${plan.job}`);
  }
  logger.info('batch job started', { job: plan.job, model: plan.model, input, chunks: plan.chunks.length, lines: plan.lines });
  return { job: plan.job, chunks: plan.chunks.length };
}

export async function chunkHandler(event: SQSEvent): Promise<SQSBatchResponse> {
  const batchItemFailures: { itemIdentifier: string }[] = [];
  for (const record of event.Records) {
    try {
      const { model, job, index } = JSON.parse(record.body) as { model: string; job: string; index: number };
      const plan = JSON.parse(Buffer.from((await store.read(`${jobPrefix(model, job)}plan.json`))!).toString('utf8')) as JobPlan;
      await processChunk(store, service, plan, index, BATCH_SIZE);
      const manifest = await finalizeJob(store, plan);
      if (manifest !== undefined) logger.info('batch job finished', { ...manifest });
    } catch (error) {
      logger.error('batch chunk failed', { messageId: record.messageId, cause: (error as Error).message });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
}
