#!/usr/bin/env node
/**
 * npm start: serves every model under ./models on http://127.0.0.1:8080 through the Lambda handler.
 * PORT, HOST and MODEL_DIR override the address and repository; MODEL_BUCKET (with MODEL_PREFIX and
 * S3_ENDPOINT for an S3-compatible store) serves from S3 instead. API_KEY requires that key in
 * x-api-key. Under LOCAL_DATA_DIR (default .local): metric records (metrics/<date>.jsonl, the
 * function's EMF records), captures (captures/<model>/<version>/<date>/captures.jsonl; CAPTURE_PERCENT
 * samples models whose config sets no capture) and feedback (feedback/<model>.jsonl). The console is
 * at /.
 */
import { createApiHandler } from '../lambda/api-handler.ts';
import { exampleRequest } from '../lambda/examples.ts';
import { attachLocalRuntime, type LocalRuntime } from '../lambda/local-runtime.ts';
import { startLocalServer } from '../lambda/local-server.ts';
import { exitOnSignals } from '../lambda/http-server.ts';
import { consoleLogger } from '../lambda/logging.ts';
import { createService, readRuntimeConfig, RuntimeConfigError } from '../lambda/runtime-config.ts';

const logger = consoleLogger();
try {
  const config = readRuntimeConfig(process.env, { modelDir: 'models', preload: true });
  const port = Number(process.env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RuntimeConfigError(`PORT must be a port number, got "${process.env.PORT}"`);
  const capturePercent = Number(process.env.CAPTURE_PERCENT ?? 0);
  if (!(capturePercent >= 0 && capturePercent <= 100)) throw new RuntimeConfigError(`CAPTURE_PERCENT must be a number from 0 to 100, got "${process.env.CAPTURE_PERCENT}"`);
  let runtime: LocalRuntime | undefined;
  const service = createService(config, logger, { onModelLoad: ({ model, version, loadMs, error }) => runtime?.telemetry.modelLoad(model, version, loadMs, error !== undefined) });
  service.capturePercent = capturePercent;
  runtime = attachLocalRuntime(service, { dataDir: process.env.LOCAL_DATA_DIR ?? '.local', logger });
  const failures = config.preload ? await service.repository.preload() : [];
  const server = await startLocalServer({
    handler: createApiHandler(service, runtime.handlerOptions),
    routes: (method, path) => runtime.console.route(method, path),
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

  console.log(`Console: ${server.url}/`);
  exitOnSignals(async () => {
    await server.close();
    await runtime.close();
  });
} catch (error) {
  console.error(`modelship: ${(error as Error).message}`);
  process.exit(1);
}
