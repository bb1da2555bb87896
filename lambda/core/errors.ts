/**
 * The one error type of the inference core. Every problem a caller can cause or see carries an HTTP
 * status and a message that names the problem; the HTTP pipeline turns it into `{"error": ...}`
 * (as middy does, only errors below 500 show their message to the caller).
 */
export class InferenceError extends Error {
  /** HTTP status this error is answered with. */
  readonly statusCode: number;
  /** Whether the message may be shown to the caller (always true below 500, as in middy). */
  readonly expose: boolean;
  /** Extra response headers, e.g. `Allow` for a 405. */
  readonly headers: Record<string, string>;
  /** A short, fixed code for the kind of problem (the Reason dimension of the BadRequests metric). */
  readonly reason: ErrorReason;
  /**
   * What the caller is told. Below 500 it is the message itself, which names the problem; at 500
   * and above it is a stable sentence without internals (store locations, SDK text), which stay in
   * `message` for the log.
   */
  readonly publicMessage: string;
  /** The request field at fault ("input", "dimensions"), where one is: OpenAI's error `param`. */
  readonly param?: string;

  constructor(statusCode: number, message: string, options: { cause?: unknown; headers?: Record<string, string>; reason?: ErrorReason; publicMessage?: string; param?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'InferenceError';
    this.statusCode = statusCode;
    this.expose = statusCode < 500;
    this.headers = options.headers ?? {};
    this.reason = options.reason ?? reasonForStatus(statusCode);
    this.publicMessage = statusCode < 500 ? message : (options.publicMessage ?? PUBLIC_MESSAGES[statusCode] ?? PUBLIC_MESSAGES[500]);
    this.param = options.param;
  }
}

/** What callers are told of server-side failures, by status. */
const PUBLIC_MESSAGES: Record<number, string> = {
  500: 'internal error',
  502: 'the model backend answered an error',
  503: 'the model is unavailable right now (it could not be loaded, or the model store could not be read); retry shortly',
  504: 'the request ran past its time budget; send fewer rows per request or use batch prediction',
};

/**
 * Why a request failed, as a metric dimension: a closed set, so a caller cannot create metrics at
 * will. Messages stay specific; reasons group them.
 */
export type ErrorReason =
  | 'invalid_json'
  | 'invalid_request'
  | 'input_mismatch'
  | 'wrong_datatype'
  | 'wrong_shape'
  | 'invalid_value'
  | 'batch_too_large'
  | 'body_too_large'
  | 'response_too_large'
  | 'model_rejected_input'
  | 'invalid_image'
  | 'image_too_large'
  | 'invalid_text'
  | 'text_too_long'
  | 'unsupported_media_type'
  | 'not_found'
  | 'method_not_allowed'
  | 'unauthorized'
  | 'throttled'
  | 'model_unavailable'
  | 'timeout'
  | 'internal';

export function reasonForStatus(statusCode: number): ErrorReason {
  switch (statusCode) {
    case 401:
    case 403:
      return 'unauthorized';
    case 404:
      return 'not_found';
    case 405:
      return 'method_not_allowed';
    case 413:
      return 'body_too_large';
    case 429:
      return 'throttled';
    case 503:
      return 'model_unavailable';
    case 504:
      return 'timeout';
    default:
      return statusCode < 500 ? 'invalid_request' : 'internal';
  }
}

export const badRequest = (message: string, reason: ErrorReason = 'invalid_request'): InferenceError => new InferenceError(400, message, { reason });

export const modelNotFound = (message: string): InferenceError => new InferenceError(404, message);

export const methodNotAllowed = (method: string, path: string, allowed: readonly string[]): InferenceError =>
  new InferenceError(405, `method ${method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`, {
    headers: { Allow: allowed.join(', ') },
  });

export const payloadTooLarge = (bytes: number, limit: number, what: string): InferenceError =>
  new InferenceError(
    413,
    `request body is ${bytes} bytes, over the ${limit}-byte limit of ${what}; send fewer rows per request or use batch prediction`,
  );

/**
 * What callers are told when a model cannot be served, by kind of problem, with what to do; the
 * detail (paths, the store's or onnxruntime's text) stays in the log under the request id.
 */
const UNAVAILABLE = {
  file: 'the model cannot be loaded: a bad model file (corrupt, refused, or changed since it was deployed); redeploy the version, or roll back to another (modelship rollback); the detail is in the log under this request id',
  config: 'the model cannot be served: a bad config (its config.json is invalid, changed since it was deployed, or names a version the store lacks); fix config.json and redeploy; the detail is in the log under this request id',
  store: 'the model store cannot be read right now (store unreachable); retry shortly, and if it persists check that the store exists and that this server may read it; the detail is in the log under this request id',
} as const;

/** A model's files cannot be loaded (corrupt, refused, changed since deploy); the cause goes to the log, the process keeps serving others. */
export const modelUnavailable = (message: string, cause?: unknown): InferenceError =>
  new InferenceError(503, message, { cause, publicMessage: UNAVAILABLE.file });

/** A model's config cannot be served (invalid, changed since deploy, naming what the store lacks). */
export const badModelConfig = (message: string): InferenceError => new InferenceError(503, message, { publicMessage: UNAVAILABLE.config });

/** The model store (or a file the deployment says it holds) cannot be read. */
export const storeUnreachable = (message: string, cause?: unknown): InferenceError =>
  new InferenceError(503, message, { cause, publicMessage: UNAVAILABLE.store });

/** The request ran past its deadline (504); `when` says where it was stopped. */
export const deadlinePassed = (when: string): InferenceError =>
  new InferenceError(504, `the request ran past its time budget (${when}); send fewer rows per request or use batch prediction`);

export const isInferenceError = (error: unknown): error is InferenceError => error instanceof InferenceError;

/** The message of an unknown thrown value, for logs and for wrapping into a named error. */
export const describeError = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === 'string' ? error : showValue(error);

/** A value as it appears in an error message: JSON, cut to 40 characters (never failing, however deep the value). */
export const showValue = (value: unknown): string => {
  let text: string;
  try {
    // JSON.parse reads a number past FP64's range (1e400) as Infinity.
    if (typeof value === 'number' && !Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : `${value < 0 ? '-' : ''}a number past FP64's range`;
    text = typeof value === 'bigint' ? value.toString() : (JSON.stringify(value) ?? String(value));
  } catch {
    // JSON.stringify recurses: a value nested thousands deep overflows the stack.
    text = Array.isArray(value) ? '[a deeply nested list]' : '{a deeply nested object}';
  }
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
};
