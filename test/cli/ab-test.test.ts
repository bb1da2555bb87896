import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { armsFromEventsFile, formatAbReport } from '../../cli/ab-report.ts';
import { armsFromEvents, sampleSizePerArm, twoProportionZTest } from '../../cli/ab-test.ts';

const close = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected} ± ${tolerance}`);

describe('two-proportion z-test against published worked examples', () => {
  it('140/200 vs 255/340: z = -1.266015 (homeworksource.com worked solution), one-tailed normal p = 0.1028', () => {
    const t = twoProportionZTest({ version: '2', n: 340, positives: 255 }, { version: '1', n: 200, positives: 140 });
    close(t.z, -1.266015, 1e-6, 'z');
    // The worked solution's p (0.1030) comes from a t distribution with 538 df; the z-test uses the
    // normal: Phi(-1.266) = 0.1028 by the standard normal table (0.1038 at -1.26, 0.1020 at -1.27).
    close(t.pValue / 2, 0.1028, 2e-4, 'one-tailed p');
    assert.equal(t.significant, false);
  });

  it('28/254 vs 36/301: z = -0.344, two-tailed p = 0.7307 (homeworksource.com worked solution)', () => {
    const t = twoProportionZTest({ version: '2', n: 301, positives: 36 }, { version: '1', n: 254, positives: 28 });
    close(t.z, -0.3441, 5e-4, 'z');
    close(t.pValue, 0.7307, 5e-4, 'two-tailed p');
  });

  it('gives the 95% interval of the difference from the unpooled standard error', () => {
    // 0.70 - 0.75 = -0.05; SE = sqrt(.7*.3/200 + .75*.25/340) = 0.0400189; ±1.959964 SE
    const t = twoProportionZTest({ version: '1', n: 340, positives: 255 }, { version: '2', n: 200, positives: 140 });
    close(t.difference, -0.05, 1e-12, 'difference');
    close(t.confidenceInterval[0], -0.05 - 1.959964 * 0.0400189, 1e-5, 'lower');
    close(t.confidenceInterval[1], -0.05 + 1.959964 * 0.0400189, 1e-5, 'upper');
  });

  it('finds a large effect significant', () => {
    const t = twoProportionZTest({ version: '1', n: 5000, positives: 500 }, { version: '2', n: 5000, positives: 650 });
    assert.ok(t.pValue < 1e-5);
    assert.equal(t.significant, true);
  });

  it('sizes a test: 10% baseline, 2 points, alpha 0.05, power 0.8 needs 3841 per version (Fleiss)', () => {
    // (1.959964*sqrt(2*.11*.89) + 0.841621*sqrt(.1*.9 + .12*.88))^2 / .02^2 = 3840.1
    assert.equal(sampleSizePerArm(0.1, 0.02), 3841);
    assert.ok(sampleSizePerArm(0.1, 0.01) > 3 * sampleSizePerArm(0.1, 0.02), 'halving the effect needs several times the events');
  });

  it('throws naming the version with no events', () => {
    assert.throws(() => twoProportionZTest({ version: '1', n: 0, positives: 0 }, { version: '2', n: 10, positives: 1 }), /version 1 has no events/);
  });
});

describe('ab-report inputs and report', () => {
  it('counts events per version from a JSON Lines file, for one model', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'events-')), 'feedback.jsonl');
    writeFileSync(file, [
      { model: 'm', version: 1, outcome: 1 }, { model: 'm', version: 1, outcome: 0 }, { model: 'm', version: 2, outcome: 1 }, { model: 'other', version: 2, outcome: 0 },
    ].map((e) => JSON.stringify(e)).join('\n'));
    assert.deepEqual(await armsFromEventsFile(file, 'm'), [{ version: '1', n: 2, positives: 1 }, { version: '2', n: 1, positives: 1 }]);
  });

  it('names the line of a malformed event', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'events-')), 'feedback.jsonl');
    writeFileSync(file, '{"version": 1, "outcome": 1}\n{"version": 1, "outcome": 7}\n');
    await assert.rejects(armsFromEventsFile(file, 'm'), /feedback.jsonl:2: needs "version" and "outcome" \(0 or 1\)/);
  });

  it('reports rates, z, p, the interval and the sample size', () => {
    const report = formatAbReport('m', armsFromEvents([
      ...Array.from({ length: 200 }, (_, i) => ({ version: 1, outcome: i < 140 ? 1 : 0 })),
      ...Array.from({ length: 340 }, (_, i) => ({ version: 2, outcome: i < 255 ? 1 : 0 })),
    ]));
    assert.match(report, /version 2 vs 1: difference 5\.00%, z = 1\.2660, p = 0\.2055/);
    assert.match(report, /95% confidence interval of the difference: \[-2\.84%, 12\.84%\]/);
    assert.match(report, /not significant at alpha 0\.05/);
  });

  it('refuses a report with fewer than two versions', () => {
    assert.throws(() => formatAbReport('m', [{ version: '1', n: 3, positives: 1 }]), /feedback for version 1 only; an A\/B report needs two/);
  });
});
