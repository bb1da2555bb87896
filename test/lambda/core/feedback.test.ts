import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isInferenceError } from '../../../lambda/core/errors.ts';
import { parseFeedback } from '../../../lambda/core/feedback.ts';

const refusal = (body: unknown): string => {
  try {
    parseFeedback(body);
  } catch (error) {
    assert.ok(isInferenceError(error));
    assert.equal(error.statusCode, 400);
    return error.message;
  }
  throw new Error(`accepted ${JSON.stringify(body)}`);
};

describe('feedback bodies', () => {
  it('takes an outcome as 0/1 or a boolean, with or without an id', () => {
    assert.deepEqual(parseFeedback('{"model_version": "2", "id": "r-1", "outcome": 1}'), { versionText: '2', id: 'r-1', outcome: 1 });
    assert.deepEqual(parseFeedback({ model_version: 2, outcome: false }), { versionText: '2', id: undefined, outcome: 0 });
    assert.deepEqual(parseFeedback({ model_version: '1', outcome: true }).outcome, 1);
  });

  it('derives the outcome from a label and the prediction', () => {
    assert.equal(parseFeedback({ model_version: '1', label: 'setosa', predicted: 'setosa' }).outcome, 1);
    assert.equal(parseFeedback({ model_version: '1', label: [1, 0], predicted: [0, 1] }).outcome, 0);
  });

  it('refuses, naming the problem, bodies that are not feedback', () => {
    assert.match(refusal('[1]'), /^feedback body must be a JSON object/);
    assert.match(refusal({ outcome: 1 }), /^feedback needs "model_version"/);
    assert.match(refusal({ model_version: '1', id: 3, outcome: 1 }), /^feedback "id" must be a string, got 3$/);
    assert.match(refusal({ model_version: '1', outcome: 2 }), /^feedback needs "outcome" \(0 or 1, true or false\)/);
    assert.match(refusal({ model_version: '1', label: 'a' }), /or both "label" and "predicted"$/);
    assert.match(refusal('{'), /^request body is not valid JSON/);
  });
});
