/**
 * The inverse link functions PMML names in normalizationMethod (RegressionModel) and linkFunction
 * (GeneralRegressionModel), written out as the evaluators compute them in double (JPMML's
 * RegressionModelUtil and NormalizationUtil; R's family objects for the GLM links).
 */
import type { GraphBuilder } from './graph.ts';

export const LINKS: Record<string, (g: GraphBuilder, y: string) => string> = {
  // 1 / (1 + exp(-y))
  logit: (g, y) => g.div(g.scalar(1), g.add(g.scalar(1), g.exp(g.neg(y)))),
  // Φ(y): erf and erfc in double (below); onnxruntime's Erf is float-only.
  probit: (g, y) => normalCdf(g, y),
  // 1 - exp(-exp(y))
  cloglog: (g, y) => g.sub(g.scalar(1), g.exp(g.neg(g.exp(y)))),
  // exp(-exp(-y))
  loglog: (g, y) => g.exp(g.neg(g.exp(g.neg(y)))),
  // 1/2 + atan(y) / π (atan in double, below: onnxruntime's Atan is float-only)
  cauchit: (g, y) => g.add(g.scalar(0.5), g.div(atan(g, y), g.scalar(Math.PI))),
  exp: (g, y) => g.exp(y),
};

export function link(g: GraphBuilder, method: string, y: string): string {
  return LINKS[method](g, y);
}

/**
 * Φ(y) = (1 + erf(y/√2)) / 2 for y ≥ 0 and erfc(|y|/√2) / 2 below, in double. For x = |y|/√2 < 2:
 * erf(x) = 2/√π · exp(-x²) · Σ 2ⁿ x²ⁿ⁺¹ / (1·3·…·(2n+1)) (Abramowitz & Stegun 7.1.6: positive terms,
 * 60 of them), erfc = 1 - erf; from 2: erfc(x) = exp(-x²)/√π / (x + (1/2)/(x + 1/(x + (3/2)/…)))
 * (A&S 7.1.14, 60 levels). Checked against C's erf/erfc: within 2e-13 relative on (0, 8).
 */
export function normalCdf(g: GraphBuilder, y: string): string {
  const x = g.mul(g.op('Abs', [y]), g.scalar(Math.SQRT1_2));
  const terms = 60;
  const small = g.op('Min', [x, g.scalar(2)]);
  const twoX2 = g.mul(g.mul(small, small), g.scalar(2));
  let term = small;
  let sum = small;
  for (let n = 1; n < terms; n++) {
    term = g.mul(term, g.div(twoX2, g.scalar(2 * n + 1)));
    sum = g.add(sum, term);
  }
  const erfSmall = g.mul(g.mul(g.exp(g.neg(g.mul(small, small))), sum), g.scalar(2 / Math.sqrt(Math.PI)));
  const large = g.op('Max', [x, g.scalar(2)]);
  let t = large;
  for (let k = terms; k >= 1; k--) t = g.add(large, g.div(g.scalar(k / 2), t));
  const erfcLarge = g.div(g.div(g.exp(g.neg(g.mul(large, large))), g.scalar(Math.sqrt(Math.PI))), t);
  const below = g.op('Less', [x, g.scalar(2)]);
  const erfAbs = g.where(below, erfSmall, g.complement(erfcLarge));
  const erfcAbs = g.where(below, g.complement(erfSmall), erfcLarge);
  const positive = g.op('GreaterOrEqual', [y, g.scalar(0)]);
  return g.nanWhere(g.isNaN(y), g.mul(g.where(positive, g.add(g.scalar(1), erfAbs), erfcAbs), g.scalar(0.5)));
}

/**
 * atan in double, as Cephes' atan.c computes it (S. L. Moshier): reduce |x| to [0, 0.66] (x, (x-1)/(x+1)
 * past 0.66, -1/x past tan(3π/8)), then x + x·z·P(z)/Q(z) with z = x², plus the reduction's angle.
 */
export function atan(g: GraphBuilder, y: string): string {
  const P = [-8.750608600031904122785e-1, -1.615753718733365076637e1, -7.500855792314704667340e1, -1.228866684490136173410e2, -6.485021904942025371773e1];
  const Q = [1, 2.485846490142306297962e1, 1.650270098316988542046e2, 4.328810604912902668951e2, 4.853903996359136964868e2, 1.945506571482613964425e2];
  const T3P8 = 2.41421356237309504880;
  const MOREBITS = 6.123233995736765886130e-17;
  const a = g.op('Abs', [y]);
  const big = g.op('Greater', [a, g.scalar(T3P8)]);
  const mid = g.op('And', [g.not(big), g.op('Greater', [a, g.scalar(0.66)])]);
  const x = g.where(big, g.div(g.scalar(-1), a), g.where(mid, g.div(g.sub(a, g.scalar(1)), g.add(a, g.scalar(1))), a));
  const base = g.where(big, g.scalar(Math.PI / 2 + 0), g.where(mid, g.scalar(Math.PI / 4), g.scalar(0)));
  const extra = g.where(big, g.scalar(MOREBITS), g.where(mid, g.scalar(0.5 * MOREBITS), g.scalar(0)));
  const z = g.mul(x, x);
  const poly = (coefficients: number[]): string => coefficients.slice(1).reduce((acc, c) => g.add(g.mul(acc, z), g.scalar(c)), g.add(g.mul(z, g.scalar(0)), g.scalar(coefficients[0])));
  const r = g.add(g.mul(x, g.div(g.mul(z, poly(P)), poly(Q))), x);
  const value = g.add(base, g.add(r, extra));
  return g.where(g.op('Less', [y, g.scalar(0)]), g.neg(value), value);
}
