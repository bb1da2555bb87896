import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assignVersion, unitHash } from '../../../lambda/core/ab-assignment.ts';
import type { ModelEntry } from '../../../lambda/core/catalog.ts';
import { DEFAULT_MODEL_CONFIG } from '../../../lambda/core/config.ts';

const entry = (weights?: Record<string, number>, problem?: string): ModelEntry => ({
  name: 'iris',
  config: { ...DEFAULT_MODEL_CONFIG, ...(weights === undefined ? {} : { abTest: { weights } }) },
  versions: [1, 2, 3],
  liveVersion: 3,
  problem,
});

/** A seeded generator (mulberry32), so the split is reproducible. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('A/B assignment', () => {
  it('leaves models without weights on their live version', () => {
    assert.equal(assignVersion(entry()), undefined);
  });

  it('never assigns a model that cannot be served', () => {
    assert.equal(assignVersion(entry({ '1': 1, '2': 1 }, 'pinned version missing')), undefined);
  });

  it('splits by the weights, within binomial tolerance', () => {
    const random = seeded(7);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 10_000; i++) {
      const version = assignVersion(entry({ '1': 70, '2': 20, '3': 10 }), undefined, random)!;
      counts[version] = (counts[version] ?? 0) + 1;
    }
    // sd of Binomial(10000, 0.2) is 40: 5 sd.
    assert.ok(Math.abs(counts['1'] - 7000) < 230 && Math.abs(counts['2'] - 2000) < 200 && Math.abs(counts['3'] - 1000) < 150, JSON.stringify(counts));
  });

  it('gives one assignment key the same version every time, and spreads keys by the weights', () => {
    const weights = { '1': 50, '2': 50 };
    const first = assignVersion(entry(weights), 'user-42');
    for (let i = 0; i < 20; i++) assert.equal(assignVersion(entry(weights), 'user-42'), first);
    const twos = Array.from({ length: 2000 }, (_, i) => assignVersion(entry(weights), `user-${i}`)).filter((v) => v === '2').length;
    assert.ok(Math.abs(twos - 1000) < 120, `${twos} of 2000 keys on version 2`);
  });

  it('hashes strings into [0, 1)', () => {
    for (const text of ['', 'a', 'iris:user-1', 'x'.repeat(1000)]) {
      const h = unitHash(text);
      assert.ok(h >= 0 && h < 1, text);
    }
    assert.notEqual(unitHash('iris:a'), unitHash('iris:b'));
  });
});
