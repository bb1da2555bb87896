import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RetryCache } from '../../../lambda/core/retry-cache.ts';

describe('retrying cache', () => {
  it('shares one attempt between concurrent callers and keeps a success', async () => {
    const cache = new RetryCache<number>(1000);
    let starts = 0;
    const start = async () => ++starts;
    const [a, b] = await Promise.all([cache.get('k', start), cache.get('k', start)]);
    assert.deepEqual([a, b, await cache.get('k', start), starts], [1, 1, 1, 1]);
    assert.equal(await cache.get('other', start), 2, 'keys are separate');
  });

  it('answers a failure as is during the pause, then tries again', async () => {
    const cache = new RetryCache<string>(50);
    let starts = 0;
    const failing = async () => {
      starts++;
      throw new Error('store down');
    };
    await assert.rejects(cache.get('k', failing), /store down/);
    await assert.rejects(cache.get('k', failing), /store down/);
    assert.equal(starts, 1, 'not retried within the pause');
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(await cache.get('k', async () => 'back'), 'back', 'retried after the pause');
  });
});
