/**
 * The inverse link functions PMML names in normalizationMethod (RegressionModel) and linkFunction
 * (GeneralRegressionModel), written out as the evaluators compute them in double (JPMML's
 * RegressionModelUtil and NormalizationUtil; R's family objects for the GLM links).
 */
import type { GraphBuilder } from './graph.ts';

export const LINKS: Record<string, (g: GraphBuilder, y: string) => string> = {
  // 1 / (1 + exp(-y))
  logit: (g, y) => g.div(g.scalar(1), g.add(g.scalar(1), g.exp(g.neg(y)))),
  // Φ(y) = erfc(-y / √2) / 2, written with Erf as (1 + erf(y / √2)) / 2.
  probit: (g, y) => g.mul(g.add(g.scalar(1), g.op('Erf', [g.mul(y, g.scalar(Math.SQRT1_2))])), g.scalar(0.5)),
  // 1 - exp(-exp(y))
  cloglog: (g, y) => g.sub(g.scalar(1), g.exp(g.neg(g.exp(y)))),
  // exp(-exp(-y))
  loglog: (g, y) => g.exp(g.neg(g.exp(g.neg(y)))),
  // 1/2 + atan(y) / π
  cauchit: (g, y) => g.add(g.scalar(0.5), g.div(g.op('Atan', [y]), g.scalar(Math.PI))),
  exp: (g, y) => g.exp(y),
};

export function link(g: GraphBuilder, method: string, y: string): string {
  return LINKS[method](g, y);
}
