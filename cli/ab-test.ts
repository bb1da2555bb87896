/**
 * A/B comparison of two model versions on a binary outcome (conversion, or prediction correct):
 * the two-proportion z-test, the confidence interval of the difference, and the sample size needed
 * to detect a given effect. Normal distribution functions come from @stdlib.
 */
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';

export interface Arm {
  readonly version: string;
  /** Events (predictions with feedback). */
  readonly n: number;
  /** Positive outcomes. */
  readonly positives: number;
}

export interface ZTestResult {
  readonly a: Arm & { rate: number };
  readonly b: Arm & { rate: number };
  /** rate(b) - rate(a). */
  readonly difference: number;
  /** Pooled two-proportion z statistic of b against a. */
  readonly z: number;
  /** Two-sided p-value. */
  readonly pValue: number;
  /** Confidence interval of the difference (unpooled standard error). */
  readonly confidenceInterval: readonly [number, number];
  readonly confidenceLevel: number;
  readonly significant: boolean;
}

const Z = (p: number) => normalQuantile(p, 0, 1);

/** The two-proportion z-test of arm b against arm a (pooled variance under H0: equal rates). */
export function twoProportionZTest(a: Arm, b: Arm, alpha = 0.05): ZTestResult {
  for (const arm of [a, b]) {
    if (!Number.isInteger(arm.n) || arm.n <= 0) throw new Error(`version ${arm.version} has no events; the test needs some in each version`);
    if (!Number.isInteger(arm.positives) || arm.positives < 0 || arm.positives > arm.n) throw new Error(`version ${arm.version}: positives (${arm.positives}) must be between 0 and n (${arm.n})`);
  }
  const [pa, pb] = [a.positives / a.n, b.positives / b.n];
  const pooled = (a.positives + b.positives) / (a.n + b.n);
  const sePooled = Math.sqrt(pooled * (1 - pooled) * (1 / a.n + 1 / b.n));
  const z = sePooled === 0 ? 0 : (pb - pa) / sePooled;
  const pValue = 2 * (1 - normalCdf(Math.abs(z), 0, 1));
  const se = Math.sqrt((pa * (1 - pa)) / a.n + (pb * (1 - pb)) / b.n);
  const margin = Z(1 - alpha / 2) * se;
  return {
    a: { ...a, rate: pa },
    b: { ...b, rate: pb },
    difference: pb - pa,
    z,
    pValue,
    confidenceInterval: [pb - pa - margin, pb - pa + margin],
    confidenceLevel: 1 - alpha,
    significant: pValue < alpha,
  };
}

/**
 * Events needed per version to detect a change of `minimumDetectableEffect` (absolute) from a
 * baseline rate with a two-sided test (Fleiss: pooled variance under H0, unpooled under H1).
 */
export function sampleSizePerArm(baselineRate: number, minimumDetectableEffect: number, alpha = 0.05, power = 0.8): number {
  const p1 = baselineRate;
  const p2 = baselineRate + minimumDetectableEffect;
  if (!(p1 > 0 && p1 < 1) || !(p2 > 0 && p2 < 1)) throw new Error(`baseline ${p1} and baseline + effect ${p2} must both lie strictly between 0 and 1`);
  const mean = (p1 + p2) / 2;
  const numerator = Z(1 - alpha / 2) * Math.sqrt(2 * mean * (1 - mean)) + Z(power) * Math.sqrt(p1 * (1 - p1) + p2 * (1 - p2));
  return Math.ceil((numerator * numerator) / (minimumDetectableEffect * minimumDetectableEffect));
}

/** Per-version counts from feedback events ({version, outcome}). */
export function armsFromEvents(events: readonly { version: number | string; outcome: number }[]): Arm[] {
  const arms = new Map<string, { n: number; positives: number }>();
  for (const event of events) {
    const key = String(event.version);
    const arm = arms.get(key) ?? { n: 0, positives: 0 };
    arm.n += 1;
    arm.positives += event.outcome ? 1 : 0;
    arms.set(key, arm);
  }
  return [...arms.entries()].sort(([x], [y]) => Number(x) - Number(y)).map(([version, counts]) => ({ version, ...counts }));
}
