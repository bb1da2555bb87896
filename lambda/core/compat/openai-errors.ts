/**
 * OpenAI's error body, `{"error": {"message", "type", "param", "code"}}`, for the compatible routes
 * (/v1/embeddings, /v1/rerank, /v1/models, /openai/{name}/v1/...): the official clients read
 * `error.message` into the exception they raise (openai-node src/core/error.ts `APIError.makeMessage`,
 * openai-python `_exceptions.py` `APIError`) and pick its class by the status alone.
 */
import type { InferenceError } from '../errors.ts';

/** OpenAI's `type` by status (its API answers invalid_request_error for 400/404 alike). */
function errorType(statusCode: number): string {
  if (statusCode === 401) return 'authentication_error';
  if (statusCode === 403) return 'permission_error';
  if (statusCode === 429) return 'rate_limit_error';
  if (statusCode >= 500) return 'server_error';
  return 'invalid_request_error';
}

/**
 * The body of an error on a compatible route. `message` is what the caller may see (the message
 * below 500; the stable sentence with the request id above). `code` is the error's reason (the same
 * closed set as the BadRequests metric), or OpenAI's "model_not_found" for an unknown model.
 */
export function openAiErrorBody(error: InferenceError, message: string): { error: { message: string; type: string; param: string | null; code: string | null } } {
  const code = error.statusCode === 404 && error.param === 'model' ? 'model_not_found' : error.reason;
  return { error: { message, type: errorType(error.statusCode), param: error.param ?? null, code } };
}
