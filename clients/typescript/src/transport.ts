/**
 * One HTTP call: signed with the AWS SDK's SigV4 signer (or an API key), sent with fetch under a
 * timeout and the caller's AbortSignal, retried with jittered exponential backoff on 429, 502, 503,
 * 504 and network errors when the request is safe to repeat (honouring Retry-After), and turned into
 * a ModelShipError when it fails.
 */
import { Sha256 } from './sha256.ts';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { messageOf, ModelShipError } from './errors.ts';

export interface RetryOptions {
  /** Further attempts after the first. @default 3 */
  readonly attempts?: number;
  /** The backoff's base: attempt n waits a random time up to base × 2^n. @default 100 */
  readonly baseDelayMs?: number;
  /** The longest wait between attempts, Retry-After included. @default 20000 */
  readonly maxDelayMs?: number;
}

export interface TransportOptions {
  readonly url: string;
  readonly region: string;
  readonly auth: 'iam' | 'apiKey' | 'none';
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  readonly apiKey?: string;
  readonly timeoutMs: number;
  readonly retries: RetryOptions;
  readonly fetch?: typeof fetch;
}

export interface CallOptions {
  /** Aborts the call (and any wait before a retry). */
  readonly signal?: AbortSignal;
  /** Overrides the client's timeout for each attempt. */
  readonly timeoutMs?: number;
}

export interface HttpCall {
  readonly method: 'GET' | 'POST';
  /** Path under the base URL, already percent-encoded. */
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: Uint8Array | string;
  /** Whether the request may be sent again after a failure (false for feedback). */
  readonly idempotent: boolean;
  /** Statuses answered to the caller instead of thrown. @default none */
  readonly accept?: readonly number[];
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Uint8Array;
}

const RETRIED = new Set([429, 502, 503, 504]);

export class Transport {
  private readonly base: URL;
  private readonly options: TransportOptions;
  private readonly signer: SignatureV4 | undefined;
  private readonly fetch: typeof fetch;

  constructor(options: TransportOptions) {
    this.options = options;
    this.base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    if (options.auth === 'apiKey' && !options.apiKey) throw new TypeError('auth "apiKey" needs apiKey');
    this.signer =
      options.auth !== 'iam'
        ? undefined
        : new SignatureV4({
            service: 'execute-api',
            region: options.region,
            credentials: options.credentials ?? defaultCredentials(),
            sha256: Sha256,
            // API Gateway signs no X-Amz-Content-SHA256 header (that is S3's).
            applyChecksum: false,
          });
  }

  /** The headers of a signed request (exported for the signature test). */
  async sign(call: HttpCall, at?: Date): Promise<Record<string, string>> {
    const url = new URL(call.path.replace(/^\//, ''), this.base);
    const headers: Record<string, string> = { ...call.headers };
    if (this.options.auth === 'apiKey') headers['x-api-key'] = this.options.apiKey!;
    if (this.signer === undefined) return headers;
    const query: Record<string, string | string[]> = {};
    for (const [key, value] of url.searchParams) {
      const seen = query[key];
      query[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
    }
    const signed = await this.signer.sign(
      { method: call.method, protocol: url.protocol, hostname: url.hostname, port: url.port === '' ? undefined : Number(url.port), path: url.pathname, query, headers: { ...headers, host: url.host }, body: call.body },
      at === undefined ? undefined : { signingDate: at },
    );
    const { host: _, ...out } = signed.headers as Record<string, string>;
    return out;
  }

  async call(call: HttpCall, options: CallOptions = {}): Promise<HttpAnswer> {
    const retry = this.options.retries;
    const attempts = 1 + (call.idempotent ? (retry.attempts ?? 3) : 0);
    const url = new URL(call.path.replace(/^\//, ''), this.base);
    for (let attempt = 1; ; attempt++) {
      options.signal?.throwIfAborted();
      // Signed per attempt: X-Amz-Date must be fresh after a long wait.
      const headers = await this.sign(call);
      const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
      // One controller per attempt, its timer cleared once the answer is read: AbortSignal.timeout()
      // and AbortSignal.any() keep every signal alive until its timer fires (30 s), which measured
      // as a growing GC cost over a thousand quick calls.
      const controller = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError'));
      }, timeoutMs);
      const onAbort = () => controller.abort(options.signal!.reason);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      let answer: HttpAnswer;
      try {
        const response = await this.fetch(url, { method: call.method, headers, body: call.body as RequestInit['body'], signal: controller.signal });
        answer = { status: response.status, headers: response.headers, body: new Uint8Array(await response.arrayBuffer()) };
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        if (timedOut) throw new ModelShipError(`no answer from ${url.origin} within ${timeoutMs} ms (${call.method} ${url.pathname})`, { code: 'timeout', attempts: attempt, cause: error });
        if (attempt < attempts) {
          await wait(backoff(attempt, retry), options.signal);
          continue;
        }
        throw new ModelShipError(`could not reach ${url.origin}: ${(error as Error).message}${(error as { cause?: { code?: string } }).cause?.code ? ` (${(error as { cause: { code: string } }).cause.code})` : ''}`, { code: 'network', attempts: attempt, cause: error });
      } finally {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      }
      if (answer.status < 400 || call.accept?.includes(answer.status)) return answer;
      if (RETRIED.has(answer.status) && attempt < attempts) {
        await wait(retryAfter(answer.headers, retry) ?? backoff(attempt, retry), options.signal);
        continue;
      }
      throw new ModelShipError(messageOf(answer.status, new TextDecoder().decode(answer.body)), {
        status: answer.status,
        requestId: answer.headers.get('x-request-id') ?? answer.headers.get('x-amzn-requestid') ?? undefined,
        errorType: answer.headers.get('x-amzn-errortype')?.split(':')[0] ?? undefined,
        code: 'http',
        attempts: attempt,
      });
    }
  }
}

/** Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): a random wait up to base × 2^(attempt-1), capped. */
function backoff(attempt: number, retry: RetryOptions): number {
  return Math.random() * Math.min(retry.maxDelayMs ?? 20_000, (retry.baseDelayMs ?? 100) * 2 ** (attempt - 1));
}

/** Retry-After as seconds or an HTTP date, capped; undefined when absent or unreadable. */
function retryAfter(headers: Headers, retry: RetryOptions): number | undefined {
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
  return Number.isNaN(ms) ? undefined : Math.min(Math.max(0, ms), retry.maxDelayMs ?? 20_000);
}

function wait(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The AWS SDK's default credential chain (environment, shared config and SSO, container, instance
 * metadata), loaded on first use: browsers, which have none of these, pass `credentials`.
 */
function defaultCredentials(): AwsCredentialIdentityProvider {
  let provider: Promise<AwsCredentialIdentityProvider> | undefined;
  return async () => {
    provider ??= import('@aws-sdk/credential-provider-node').then((m) => m.defaultProvider());
    return (await provider)();
  };
}

/** The region of an execute-api URL (https://{id}.execute-api.{region}.amazonaws.com/...), if it is one. */
export function regionOfUrl(url: string): string | undefined {
  return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/.exec(new URL(url).hostname)?.[1];
}
