/** The logger the core writes through: Powertools' logger in Lambda, readable lines locally, silence in tests. */
export interface CoreLogger {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export const silentLogger: CoreLogger = { info() {}, warn() {}, error() {} };
