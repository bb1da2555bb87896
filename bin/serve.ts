#!/usr/bin/env node
/**
 * npm start: serves every model under ./models on http://127.0.0.1:8080 through the Lambda handler.
 * PORT, HOST and MODEL_DIR override the address and repository; MODEL_BUCKET (with MODEL_PREFIX and
 * S3_ENDPOINT for an S3-compatible store) serves from S3 instead. Feedback events go to
 * LOCAL_DATA_DIR (default .local)/feedback/<model>.jsonl. API_KEY requires that key in x-api-key.
 */
import { createApiHandler } from '../lambda/api-handler.ts';
import { exampleRequest } from '../lambda/examples.ts';
import { attachLocalDelivery } from '../lambda/local-delivery.ts';
import { startLocalServer } from '../lambda/local-server.ts';
import { exitOnSignals } from '../lambda/http-server.ts';
import { consoleLogger } from '../lambda/logging.ts';
import { createService, readRuntimeConfig, RuntimeConfigError } from '../lambda/runtime-config.ts';

const logger = consoleLogger();
try {
  const config = readRuntimeConfig(process.env, { modelDir: 'models', preload: true });
  const port = Number(process.env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RuntimeConfigError(`PORT must be a port number, got "${process.env.PORT}"`);
  const service = createService(config, logger);
  const dataDir = process.env.LOCAL_DATA_DIR ?? '.local';
  attachLocalDelivery(service, { directory: dataDir, logger });
  const failures = config.preload ? await service.repository.preload() : [];
  const server = await startLocalServer({
    handler: createApiHandler(service, { logger }),
    port,
    host: process.env.HOST ?? '127.0.0.1',
    maxBodyBytes: config.maxRequestBytes,
    apiKey: process.env.API_KEY || undefined,
  });

  const catalog = await service.repository.catalog();
  console.log(`ModelShip serving ${catalog.size} model(s) from ${service.repository.source.location} on ${server.url}`);
  for (const entry of catalog.values()) {
    const state = entry.problem ?? failures.find((f) => f.startsWith(`${entry.name}:`));
    console.log(`  ${entry.name.padEnd(28)} live v${entry.liveVersion ?? '-'} (versions ${entry.versions.join(', ') || 'none'})${state ? `  UNAVAILABLE: ${state}` : ''}`);
  }
  const sample = [...catalog.values()].find((e) => e.name === 'iris_forest' && e.problem === undefined) ?? [...catalog.values()].find((e) => e.problem === undefined);
  if (sample !== undefined) {
    const model = await service.repository.load(sample.name, sample.liveVersion!).catch(() => undefined);
    if (model !== undefined) {
      const body = JSON.stringify(await exampleRequest(service, model));
      console.log(`\nTry it:\n  curl -s -X POST ${server.url}/v2/models/${model.name}/infer -H 'Content-Type: application/json' -d '${body}'\n`);
    }
  }

  exitOnSignals(() => server.close());
} catch (error) {
  console.error(`modelship: ${(error as Error).message}`);
  process.exit(1);
}
