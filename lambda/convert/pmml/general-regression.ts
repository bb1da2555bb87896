/**
 * GeneralRegressionModel (PMML 4.4, "General Regression"): parameters built from factors and
 * covariates by the PPMatrix (a factor cell is 1 where the field equals its value, a covariate cell the
 * field to the power of its value; a parameter is the product of its cells, 1 with none), their betas
 * from the ParamMatrix, plus offsets; then by modelType: regression and generalLinear (the linear
 * predictor), generalizedLinear (its inverse linkFunction), multinomialLogistic (softmax against the
 * reference category) and ordinalMultinomial (cumulativeLink differences).
 */
import { PmmlError } from './errors.ts';
import type { GraphBuilder } from './graph.ts';
import { link } from './links.ts';
import type { Result } from './models.ts';
import { filled, literalFor, numeric, type Scope } from './scope.ts';
import { attr, child, childrenNamed, numberAttr, type Element } from './xml.ts';

const MODEL_TYPES = ['regression', 'generalLinear', 'generalizedLinear', 'multinomialLogistic', 'ordinalMultinomial'];

/** η → μ for the GLM link functions of PMML (the inverse of each link; `c` is linkParameter). */
function inverseLink(g: GraphBuilder, name: string, eta: string, c: number | undefined, e: Element): string {
  const need = (): number => {
    if (c === undefined) throw new PmmlError(`<GeneralRegressionModel> (line ${e.line}) has linkFunction ${name} but no linkParameter`);
    return c;
  };
  switch (name) {
    case 'identity': return eta;
    case 'log': return g.exp(eta);
    case 'logc': return g.sub(g.scalar(1), g.exp(eta));
    case 'logit': case 'probit': case 'cloglog': case 'loglog': return link(g, name, eta);
    case 'negbin': return g.div(g.scalar(1), g.mul(g.scalar(need()), g.sub(g.exp(g.neg(eta)), g.scalar(1))));
    case 'power': {
      const p = need();
      return p === 0 ? g.exp(eta) : g.op('Pow', [eta, g.scalar(1 / p)]);
    }
    case 'oddspower': {
      const p = need();
      if (p === 0) return link(g, 'logit', eta);
      return g.div(g.scalar(1), g.add(g.scalar(1), g.op('Pow', [g.add(g.scalar(1), g.mul(g.scalar(p), eta)), g.scalar(-1 / p)])));
    }
    default:
      throw new PmmlError(`<GeneralRegressionModel> (line ${e.line}) has linkFunction "${name}"; PMML knows cloglog, identity, log, logc, logit, loglog, negbin, oddspower, power, probit`);
  }
}

export function generalRegression(e: Element, scope: Scope, fn: 'regression' | 'classification', classes: readonly string[]): Result {
  const { ctx } = scope;
  const { g } = ctx;
  const modelType = attr(e, 'modelType');
  if (!MODEL_TYPES.includes(modelType)) throw new PmmlError(`<GeneralRegressionModel> (line ${e.line}) has modelType "${modelType}"; the converter takes ${MODEL_TYPES.join(', ')} (CoxRegression is not supported)`);
  if (e.attrs.trialsVariable !== undefined || e.attrs.trialsValue !== undefined) throw new PmmlError(`<GeneralRegressionModel> (line ${e.line}) has trials, which the converter does not support`);
  const parameters = childrenNamed(child(e, 'ParameterList') ?? e, 'Parameter').map((p) => attr(p, 'name'));
  if (parameters.length === 0) throw new PmmlError(`<GeneralRegressionModel> (line ${e.line}) has no ParameterList parameters`);
  const factors = new Set(childrenNamed(child(e, 'FactorList') ?? e, 'Predictor').map((p) => attr(p, 'name')));
  const covariates = new Set(childrenNamed(child(e, 'CovariateList') ?? e, 'Predictor').map((p) => attr(p, 'name')));
  // Each parameter's column: the product of its PPMatrix cells.
  const cells = new Map<string, Element[]>();
  for (const cell of childrenNamed(child(e, 'PPMatrix') ?? e, 'PPCell')) {
    const p = attr(cell, 'parameterName');
    cells.set(p, [...(cells.get(p) ?? []), cell]);
  }
  const columns = parameters.map((p) => {
    const list = cells.get(p) ?? [];
    const parts = list.map((cell) => {
      const field = attr(cell, 'predictorName');
      const v = scope.get(field);
      const value = attr(cell, 'value');
      if (factors.has(field) || (!covariates.has(field) && v.domain !== undefined)) {
        return g.nanWhere(g.isNaN(v.t), g.compare('Equal', v.t, g.scalar(literalFor(v, value, `value of <PPCell> (line ${cell.line})`))));
      }
      const exponent = numberAttr(cell, 'value');
      const x = numeric(ctx, v);
      return exponent === 1 ? x : g.op('Pow', [x, g.scalar(exponent)]);
    });
    return parts.length === 0 ? undefined : parts.reduce((a, b) => g.mul(a, b));
  });
  // The betas, per target category (undefined: shared).
  const betas = new Map<string, Map<string, number>>();
  for (const cell of childrenNamed(child(e, 'ParamMatrix') ?? e, 'PCell')) {
    const category = cell.attrs.targetCategory ?? '';
    const p = attr(cell, 'parameterName');
    if (!parameters.includes(p)) throw new PmmlError(`<PCell parameterName="${p}"> (line ${cell.line}) names no Parameter`);
    const row = betas.get(category) ?? new Map<string, number>();
    row.set(p, numberAttr(cell, 'beta'));
    betas.set(category, row);
  }
  const offset = (): string | undefined => {
    let o: string | undefined = e.attrs.offsetValue !== undefined ? g.scalar(numberAttr(e, 'offsetValue')) : undefined;
    if (e.attrs.offsetVariable !== undefined) {
      const v = numeric(ctx, scope.get(e.attrs.offsetVariable));
      o = o === undefined ? v : g.add(o, v);
    }
    return o;
  };
  const linear = (row: ReadonlyMap<string, number> | undefined, shared?: ReadonlyMap<string, number>): string => {
    let eta: string | undefined;
    parameters.forEach((p, i) => {
      const beta = row?.get(p) ?? shared?.get(p);
      if (beta === undefined || beta === 0) return;
      const term = columns[i] === undefined ? g.scalar(beta) : g.mul(columns[i]!, g.scalar(beta));
      eta = eta === undefined ? term : g.add(eta, term);
    });
    const o = offset();
    const base = eta ?? g.scalar(0);
    const withOffset = o === undefined ? base : g.add(base, o);
    // Broadcast to [N, 1] (a model of constants only would otherwise be a scalar).
    return g.add(withOffset, filled(ctx, 0));
  };
  if (modelType === 'regression' || modelType === 'generalLinear' || modelType === 'generalizedLinear') {
    if (fn !== 'regression') throw new PmmlError(`<GeneralRegressionModel modelType="${modelType}"> (line ${e.line}) must be a regression model`);
    const eta = linear(betas.get(''));
    if (modelType !== 'generalizedLinear') return { kind: 'regression', value: eta };
    return { kind: 'regression', value: inverseLink(g, e.attrs.linkFunction ?? 'identity', eta, e.attrs.linkParameter === undefined ? undefined : numberAttr(e, 'linkParameter'), e) };
  }
  if (fn !== 'classification') throw new PmmlError(`<GeneralRegressionModel modelType="${modelType}"> (line ${e.line}) must be a classification model`);
  if (modelType === 'multinomialLogistic') {
    // p_j = exp(η_j) / (1 + Σ exp(η_k)); the reference category (η = 0) takes the rest.
    const reference = e.attrs.targetReferenceCategory ?? classes.find((c) => !betas.has(c));
    const etas = classes.map((c) => (c === reference ? undefined : linear(betas.get(c))));
    const exps = etas.map((t) => (t === undefined ? undefined : g.exp(t)));
    const present = exps.filter((x): x is string => x !== undefined);
    const denominator = g.add(g.scalar(1), present.length === 1 ? present[0] : g.op('Sum', present));
    const probs = g.concat(exps.map((x) => g.div(x ?? filled(ctx, 1), denominator)));
    return { kind: 'classification', probs, label: labelOf(g, probs), classes };
  }
  // ordinalMultinomial: P(Y ≤ j) = F(θ_j + η), with θ_j the category's own intercept cells.
  const cumulativeLink = e.attrs.cumulativeLink ?? 'logit';
  const shared = betas.get('');
  const cumulative = classes.slice(0, -1).map((c) => link(g, cumulativeLink, linear(betas.get(c), shared)));
  const parts = cumulative.map((cdf, i) => (i === 0 ? cdf : g.sub(cdf, cumulative[i - 1])));
  parts.push(g.sub(g.scalar(1), cumulative[cumulative.length - 1]));
  const probs = g.concat(parts);
  return { kind: 'classification', probs, label: labelOf(g, probs), classes };
}

function labelOf(g: GraphBuilder, probs: string): string {
  const index = g.toDouble(g.op('ArgMax', [probs], { axis: 1, keepdims: 1 }));
  return g.nanWhere(g.isNaN(g.reduce('ReduceSum', probs, [1])), index);
}
