import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OBSERVERS, readRuntimeConfig, RuntimeConfigError } from '../../../lambda/entry/runtime-config.ts';

describe('runtime config: MODELSHIP_OBSERVE', () => {
  const observe = (value?: string) => [...readRuntimeConfig({ MODEL_DIR: 'models', MODELSHIP_OBSERVE: value }).observe].sort();

  it('turns every observer on by default, and takes "all", "none" or a list', () => {
    assert.deepEqual(observe(), [...OBSERVERS].sort());
    assert.deepEqual(observe(''), [...OBSERVERS].sort());
    assert.deepEqual(observe('all'), [...OBSERVERS].sort());
    assert.deepEqual(observe('none'), []);
    assert.deepEqual(observe('metrics, capture'), ['capture', 'metrics']);
  });

  it('refuses a word it does not know, naming it and the choices', () => {
    assert.throws(() => observe('metrics,logs'), (error: Error) => error instanceof RuntimeConfigError && /"logs" is none of them/.test(error.message) && /metrics, log, stats, capture/.test(error.message));
  });
});
