/**
 * Lambda entry point (the container image's CMD: index.handler). Settings come from the
 * environment, checked once at init; with PRELOAD_MODELS=true the models load during init, so the
 * first request pays no load.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { createApiHandler } from './api-handler.ts';
import { powertoolsLogger } from './logging.ts';
import { createService, readRuntimeConfig } from './runtime-config.ts';

const logger = powertoolsLogger(new Logger({ serviceName: 'modelship' }));
const config = readRuntimeConfig(process.env);
const service = createService(config, logger);

if (config.preload) {
  const failures = await service.repository.preload();
  // A model that cannot load answers 503 with the cause; the others still serve.
  if (failures.length > 0) logger.error('models failed to preload', { failures });
}

export const handler = createApiHandler(service, {
  logger,
  corsOrigins: process.env.CORS_ORIGINS ? process.env.CORS_ORIGINS.split(',') : undefined,
});
