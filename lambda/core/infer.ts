/** v2 inference: a request body (JSON, or JSON header plus binary tensors) checked, run, and encoded. */
import { decodeInferRequest } from './v2-request.ts';
import { encodeInferResponse, type EncodedAnswer } from './v2-response.ts';
import { parseJsonBody } from './json.ts';
import type { LoadedModel } from './sessions.ts';
import { observeInference, runSession, type InferenceObservers } from './session-run.ts';
import { takesExactIntegers } from './signature.ts';
import { whatTheModelTakes } from './request-example.ts';

/**
 * Runs a v2 inference request, JSON or with the binary tensor extension (`binary`: the bytes after
 * the JSON header), answering with binary outputs where the request asks for them.
 */
export async function runInfer(model: LoadedModel, body: unknown, binary?: Uint8Array, observers?: InferenceObservers): Promise<EncodedAnswer> {
  const started = performance.now();
  const request = decodeInferRequest(typeof body === 'string' ? parseJsonBody(body, { exactIntegers: takesExactIntegers(model.signature), expected: () => whatTheModelTakes(model, 'infer') }) : body, model, binary);
  const parsed = performance.now();
  const results = await runSession(model, request.feeds, request.outputNames);
  const ran = performance.now();
  const answer = encodeInferResponse(model, request.id, request.outputNames, results, request.binaryOutputs);
  observeInference(observers, model, 'infer', request.id, request.batchSize, request.feeds, results, { started, parsed, ran });
  return answer;
}
