/**
 * XGBoost objectives: how each turns the margin into what `Booster.predict` returns, and how the
 * saved base_score (in output space) becomes a margin. Sources: xgboost src/objective/regression_loss.h
 * and regression_obj.cu (PredTransform, ProbToMargin), logistic_obj.h (LogisticProbToMargin:
 * -log(1/x - 1)), poisson/gamma/tweedie (log), multiclass_obj.cu (softmax), hinge.cu (x > 0).
 * An objective not listed here is refused by name: survival:aft and survival:cox predict times whose
 * transforms depend on parameters the model file does not keep in a form we can check.
 */
import type { Head, Link } from '../links.ts';

export interface XgbObjective {
  readonly head: (outputs: number) => Head;
  /** base_score (output space, float32) → margin (float32). */
  readonly toMargin: (score: number) => number;
  /** All outputs' base_score at once, where one output's margin depends on its neighbours. */
  readonly toMargins?: (scores: readonly number[]) => number[];
  /** What the record must say is not verified or not exact. */
  readonly note?: string;
}

const f = Math.fround;
const identity = (x: number) => x;
const logit = (x: number) => f(-Math.log(f(f(1 / x) - 1)));
const log = (x: number) => f(Math.log(x));

const regression = (link: Link, toMargin: (x: number) => number = identity): XgbObjective => ({ head: () => ({ task: 'regression', link }), toMargin });
const ranking: XgbObjective = { head: () => ({ task: 'ranking', link: { kind: 'identity' } }), toMargin: identity };
const binary = (link: Link, toMargin: (x: number) => number): XgbObjective => ({
  // With several targets (multi-label) each column is its own probability: a regression of K outputs.
  head: (outputs) => (outputs === 1 ? { task: 'classification', classes: 2, binary: true, link } : { task: 'regression', link }),
  toMargin,
});
const multiclass: XgbObjective = { head: (outputs) => ({ task: 'classification', classes: outputs, link: { kind: 'softmax' } }), toMargin: identity };

/** XGBoost's kRtEps (include/xgboost/base.h): 1e-6f. */
const RT_EPS = f(1e-6);
/** common::SoftPlusInv (src/common/math.h): x = max(x, kRtEps); x + log(-expm1(-x)), in float. */
const softPlusInv = (x: number) => {
  const y = Math.max(f(x), RT_EPS);
  return f(y + f(Math.log(f(-Math.expm1(-y)))));
};

export const XGB_OBJECTIVES: Record<string, XgbObjective> = {
  'binary:logistic': binary({ kind: 'sigmoid' }, logit),
  'binary:hinge': binary({ kind: 'hinge' }, identity),
  // The raw logit: predict() returns the margin itself, kept as the `margin` output; the label is margin > 0,
  // and `probabilities` are the logistic of that logit (what binary:logistic reports for the same margin).
  'binary:logitraw': {
    head: (outputs) => (outputs === 1 ? { task: 'classification', classes: 2, binary: true, margin: true, link: { kind: 'sigmoid' } } : { task: 'regression', link: { kind: 'identity' } }),
    toMargin: identity,
  },
  'multi:softprob': multiclass,
  // predict() answers the margin's argmax (multiclass_obj.cu, PredTransform with prob=false).
  'multi:softmax': { ...multiclass, head: (outputs) => ({ task: 'classification', classes: outputs, link: { kind: 'softmax' }, labelFromMargin: true }) },
  'reg:squarederror': regression({ kind: 'identity' }),
  'reg:linear': regression({ kind: 'identity' }),
  'reg:squaredlogerror': regression({ kind: 'identity' }),
  'reg:pseudohubererror': regression({ kind: 'identity' }),
  'reg:absoluteerror': regression({ kind: 'identity' }),
  'reg:quantileerror': regression({ kind: 'identity' }),
  'reg:logistic': regression({ kind: 'sigmoid' }, logit),
  // Non-crossing expectiles (src/objective/expectile_obj.cc): the first column is the lowest expectile,
  // each next one adds kRtEps + softplus(margin); ProbToMargin inverts that from the last column down.
  'reg:expectileerror': {
    head: () => ({ task: 'regression', link: { kind: 'cumulative-softplus', epsilon: RT_EPS } }),
    toMargin: identity,
    toMargins: (scores) => scores.map((s, j) => (j === 0 ? s : softPlusInv(f(f(s - scores[j - 1]) - RT_EPS)))),
    note: 'reg:expectileerror is in no released XGBoost (3.2 answers "Unknown objective function"): its link was converted from the development source (src/objective/expectile_obj.cc, PredTransform and ProbToMargin) and has not been compared with a native prediction',
  },
  'count:poisson': regression({ kind: 'exp' }, log),
  'reg:gamma': regression({ kind: 'exp' }, log),
  'reg:tweedie': regression({ kind: 'exp' }, log),
  'rank:pairwise': ranking,
  'rank:ndcg': ranking,
  'rank:map': ranking,
};

export const REFUSED_OBJECTIVES: Record<string, string> = {
  'survival:aft': 'survival:aft (accelerated failure time) is not converted: its prediction is exp(margin) of a distribution whose parameters we cannot verify exactly; serve it from XGBoost, or export it with onnxmltools and check it yourself',
  'survival:cox': 'survival:cox (Cox proportional hazards) is not converted: its prediction is a hazard ratio relative to a baseline the model file does not hold',
};
