/** Loggers for the core: Powertools' structured JSON logger in Lambda, readable lines locally. */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { CoreLogger } from '../core/logger.ts';

export function powertoolsLogger(logger: Logger): CoreLogger {
  return {
    info: (message, extra = {}) => logger.info(message, extra),
    warn: (message, extra = {}) => logger.warn(message, extra),
    error: (message, extra = {}) => logger.error(message, extra),
  };
}

/** One line per event on stderr, for the local server and the CLI. */
export function consoleLogger(prefix = 'modelship'): CoreLogger {
  const line = (level: string, message: string, extra?: Record<string, unknown>) =>
    console.error(`[${prefix}] ${level} ${message}${extra !== undefined && Object.keys(extra).length > 0 ? ` ${JSON.stringify(extra)}` : ''}`);
  return {
    info: (message, extra) => line('info', message, extra),
    warn: (message, extra) => line('warn', message, extra),
    error: (message, extra) => line('error', message, extra),
  };
}
