/**
 * A cache of asynchronous attempts: concurrent callers share one attempt; a failed attempt is
 * answered as is for `retryAfterMs`, then tried again, so a failure is never cached for good and
 * a failing store is not hammered either.
 */
interface Attempt<T> {
  readonly promise: Promise<T>;
  failedAt?: number;
}

export class RetryCache<T> {
  private readonly attempts = new Map<string, Attempt<T>>();
  private readonly retryAfterMs: number;

  constructor(retryAfterMs: number) {
    this.retryAfterMs = retryAfterMs;
  }

  /** The attempt cached under `key`, or a new one from `start` when there is none or it failed long enough ago. */
  get(key: string, start: () => Promise<T>): Promise<T> {
    const previous = this.attempts.get(key);
    if (previous !== undefined && (previous.failedAt === undefined || Date.now() - previous.failedAt < this.retryAfterMs)) {
      return previous.promise;
    }
    const attempt: Attempt<T> = { promise: start() };
    attempt.promise.catch(() => {
      attempt.failedAt = Date.now();
    });
    this.attempts.set(key, attempt);
    return attempt.promise;
  }
}
