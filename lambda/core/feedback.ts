/**
 * Feedback: an outcome reported for a prediction, the A/B test's raw material.
 * POST /v2/models/{name}/feedback with {model_version, id?, outcome: 0|1|true|false} or
 * {model_version, id?, label, predicted}.
 */
import { badRequest, showValue } from './errors.ts';
import { MAX_NESTING, nestedTooDeeply, nestsDeeperThan, parseJsonBody } from './json.ts';

/** An outcome reported for a prediction: a conversion, or whether the prediction was right. */
export interface FeedbackEvent {
  readonly model: string;
  readonly version: number;
  readonly id?: string;
  /** 1 for a conversion / correct prediction, 0 otherwise. */
  readonly outcome: 0 | 1;
  readonly timestamp: string;
}

/** A feedback body checked: the version it is about (as sent), the prediction's id, and the outcome. */
export interface FeedbackReport {
  readonly versionText: string;
  readonly id?: string;
  readonly outcome: 0 | 1;
}

export function parseFeedback(raw: unknown): FeedbackReport {
  const body = typeof raw === 'string' ? parseJsonBody(raw) : raw;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('feedback body must be a JSON object with "model_version" and "outcome"');
  const { model_version: versionText, id, outcome, label, predicted } = body as Record<string, unknown>;
  if (typeof versionText !== 'string' && typeof versionText !== 'number') throw badRequest('feedback needs "model_version": the version that answered (model_version in the response, or the X-Model-Version header)');
  if (id !== undefined && typeof id !== 'string') throw badRequest(`feedback "id" must be a string, got ${showValue(id)}`);
  let value: 0 | 1;
  if (outcome === 0 || outcome === 1 || typeof outcome === 'boolean') value = outcome === 1 || outcome === true ? 1 : 0;
  else if (outcome === undefined && label !== undefined && predicted !== undefined) value = sameJson(label, predicted) ? 1 : 0;
  else throw badRequest('feedback needs "outcome" (0 or 1, true or false) or both "label" and "predicted"');
  return { versionText: String(versionText), id, outcome: value };
}

/** Whether a label and a prediction are the same JSON value; 400 for values nested past MAX_NESTING. */
function sameJson(label: unknown, predicted: unknown): boolean {
  if (nestsDeeperThan(label, MAX_NESTING) || nestsDeeperThan(predicted, MAX_NESTING)) throw nestedTooDeeply('feedback "label" or "predicted"');
  return JSON.stringify(label) === JSON.stringify(predicted);
}
