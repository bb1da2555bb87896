/** The one error every call throws for a failed answer, a timeout or a network failure. */
export class ModelShipError extends Error {
  /** The HTTP status; undefined for a timeout or a network failure. */
  readonly status: number | undefined;
  /** The request id: ModelShip's X-Request-Id, else API Gateway's x-amzn-RequestId. */
  readonly requestId: string | undefined;
  /** API Gateway's error type (x-amzn-ErrorType), e.g. InvalidSignatureException. */
  readonly errorType: string | undefined;
  /** What failed: an answer with an error status, a timeout, or the network. */
  readonly code: 'http' | 'timeout' | 'network';
  /** How many attempts were made. */
  readonly attempts: number;

  constructor(message: string, details: { status?: number; requestId?: string; errorType?: string; code: ModelShipError['code']; attempts: number; cause?: unknown }) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ModelShipError';
    this.status = details.status;
    this.requestId = details.requestId;
    this.errorType = details.errorType;
    this.code = details.code;
    this.attempts = details.attempts;
  }
}

/** The server's message: ModelShip's {"error"}, API Gateway's {"message"}, or the text itself. */
export function messageOf(status: number, text: string): string {
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown };
    if (typeof body.error === 'string') return body.error;
    if (typeof body.message === 'string') return body.message;
  } catch {
    // not JSON: the text itself, below
  }
  return text.trim() === '' ? `HTTP ${status}` : text.slice(0, 2000);
}
