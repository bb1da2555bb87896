/**
 * The model elements: each compiles, in a scope of fields, to a Result, the answer in the graph.
 * RegressionModel and MiningModel are here; TreeModel's walk is tree.ts. Targets and Output fields
 * apply to every model.
 */
import { MODEL_ELEMENTS, SUPPORTED_MODELS } from './catalog.ts';
import { readMiningSchema } from './dictionary.ts';
import { PmmlError } from './errors.ts';
import { link, LINKS } from './links.ts';
import { evaluatePredicate, PREDICATES } from './predicates.ts';
import { castTo, expressionVal, filled, EXPRESSIONS, literalFor, numeric, Scope, treatMissingAndOutliers, type Context, type Val } from './scope.ts';
import { generalRegression } from './general-regression.ts';
import { ensembleSum } from './ensemble.ts';
import { neuralNetwork } from './neural-network.ts';
import { evaluateForest, type ForestResult } from './tree.ts';
import { attr, child, childrenNamed, numberAttr, type Element } from './xml.ts';

/** A model's answer: a value [N, 1], or class probabilities [N, C] with the label's class index [N, 1] (NaN: no answer). */
export type Result =
  | { readonly kind: 'regression'; readonly value: string }
  | { readonly kind: 'classification'; readonly probs: string; readonly label: string; readonly classes: readonly string[] };

export type FunctionName = 'regression' | 'classification';

export function functionOf(e: Element): FunctionName {
  const f = attr(e, 'functionName');
  if (f !== 'regression' && f !== 'classification') throw new PmmlError(`<${e.name}> (line ${e.line}) has functionName "${f}"; the converter takes regression and classification models`);
  return f;
}

/** The class names of a classification model's target, as the DataDictionary orders them. */
export function classesOf(e: Element, scope: Scope): string[] {
  const target = readMiningSchema(e).find((m) => m.usageType === 'target' || m.usageType === 'predicted');
  const field = target === undefined ? undefined : scope.ctx.dictionary.get(target.name);
  if (field !== undefined && field.validValues.length > 0) return [...field.validValues];
  // No declared values (a nested model's target, or an open DataField): the classes the model names, in order of appearance.
  const seen: string[] = [];
  const visit = (x: Element): void => {
    if (x.name === 'RegressionTable' && x.attrs.targetCategory !== undefined && !seen.includes(x.attrs.targetCategory)) seen.push(x.attrs.targetCategory);
    if (x.name === 'ScoreDistribution' && x.attrs.value !== undefined && !seen.includes(x.attrs.value)) seen.push(x.attrs.value);
    if (x.name === 'Node' && x.attrs.score !== undefined && !seen.includes(x.attrs.score)) seen.push(x.attrs.score);
    x.children.forEach(visit);
  };
  visit(e);
  if (seen.length === 0) throw new PmmlError(`<${e.name}> (line ${e.line}) is a classification model whose target lists no classes`);
  return seen;
}

/** A model's own scope: its MiningSchema's treatments over the parent's fields, then its LocalTransformations. */
export function modelScope(e: Element, parent: Scope): Scope {
  const scope = new Scope(parent.ctx, parent);
  for (const mining of readMiningSchema(e)) {
    if (mining.usageType !== 'active') continue;
    if (mining.outliers === 'asIs' && mining.missingValueReplacement === undefined) continue;
    scope.set(mining.name, treatMissingAndOutliers(parent.ctx, parent.get(mining.name), mining));
  }
  scope.addDerived(child(e, 'LocalTransformations'));
  return scope;
}

/** Compiles a model element: its scope, its answer, its Targets. Output fields are made by the caller that needs them. */
export function compileModel(e: Element, parent: Scope): { result: Result; scope: Scope } {
  if (e.attrs.isScorable === 'false') throw new PmmlError(`<${e.name}> (line ${e.line}) is marked isScorable="false"`);
  const compile = COMPILERS[e.name];
  if (compile === undefined) {
    throw new PmmlError(`<${e.name}> models are not supported; the converter takes ${SUPPORTED_MODELS.join(', ')}`);
  }
  const scope = modelScope(e, parent);
  const result = applyTargets(e, scope, compile(e, scope));
  return { result, scope };
}

type Compiler = (e: Element, scope: Scope) => Result;

const COMPILERS: Record<string, Compiler> = {
  RegressionModel: regressionModel,
  TreeModel: treeModel,
  MiningModel: miningModel,
  GeneralRegressionModel: (e, scope) => generalRegression(e, scope, functionOf(e), functionOf(e) === 'classification' ? classesOf(e, scope) : []),
  NeuralNetwork: (e, scope) => neuralNetwork(e, scope, functionOf(e), functionOf(e) === 'classification' ? classesOf(e, scope) : []),
};

function treeModel(e: Element, scope: Scope): Result {
  const fn = functionOf(e);
  const classes = fn === 'classification' ? classesOf(e, scope) : [];
  const fast = ensembleSum(scope.ctx.g, [{ element: e, scope, weight: 1 }], fn, classes, 1, true);
  if (fast !== undefined) return ensembleResult(scope.ctx, fast, fn, classes, true);
  return single(scope.ctx, evaluateForest([{ element: e, scope }], fn, classes));
}

/** The TreeEnsemble's [N, targets] as a Result (the label: the extra target, or the most likely class). */
function ensembleResult(ctx: Context, out: string, fn: FunctionName, classes: readonly string[], withLabel: boolean): Result {
  const { g } = ctx;
  if (fn === 'regression') return { kind: 'regression', value: out };
  const C = classes.length;
  const probs = withLabel ? g.gather(out, Array.from({ length: C }, (_, c) => c)) : out;
  const label = withLabel ? g.column(out, C) : argmax(ctx, probs);
  return { kind: 'classification', probs, label: g.nanWhere(g.isNaN(g.reduce('ReduceSum', probs, [1])), label), classes };
}

/** A forest of one as one Result. */
function single(ctx: Context, f: ForestResult): Result {
  if (f.kind === 'regression') return { kind: 'regression', value: f.values };
  return { kind: 'classification', probs: ctx.g.op('Squeeze', [f.probs, ctx.g.int64([1])]), label: f.labels, classes: f.classes };
}

// RegressionModel (PMML 4.4, "Regression"): y = intercept + sum(coefficient * x^exponent) + sum(categorical
// coefficients) + sum(coefficient * product of fields), per RegressionTable; then normalizationMethod.
function regressionTable(scope: Scope, table: Element): string {
  const { g } = scope.ctx;
  let y = g.scalar(numberAttr(table, 'intercept'));
  const terms: string[] = [];
  // Untransformed input columns with exponent 1: one Gather and one MatMul (a dot product in double).
  const direct: { column: number; coefficient: number }[] = [];
  let matrix: string | undefined;
  for (const p of childrenNamed(table, 'NumericPredictor')) {
    const v = scope.get(attr(p, 'name'));
    const exponent = numberAttr(p, 'exponent', 1);
    if (v.source !== undefined && exponent === 1 && (matrix === undefined || matrix === v.source.matrix)) {
      matrix = v.source.matrix;
      direct.push({ column: v.source.column, coefficient: numberAttr(p, 'coefficient') });
      continue;
    }
    const x = numeric(scope.ctx, v);
    const xe = exponent === 1 ? x : g.op('Pow', [x, g.scalar(exponent)]);
    terms.push(g.mul(xe, g.scalar(numberAttr(p, 'coefficient'))));
  }
  if (direct.length > 0) {
    terms.unshift(g.matmul(g.gather(matrix!, direct.map((d) => d.column)), g.constant(direct.map((d) => d.coefficient), [direct.length, 1])));
  }
  for (const p of childrenNamed(table, 'CategoricalPredictor')) {
    const v = scope.get(attr(p, 'name'));
    const literal = literalFor(v, attr(p, 'value'), `value of <CategoricalPredictor name="${p.attrs.name}"> (line ${p.line})`);
    // A missing value matches no category: the term adds nothing (as JPMML-Evaluator scores it).
    const hit = g.compare('Equal', v.t, g.scalar(literal));
    terms.push(g.mul(hit, g.scalar(numberAttr(p, 'coefficient'))));
  }
  for (const p of childrenNamed(table, 'PredictorTerm')) {
    const refs = childrenNamed(p, 'FieldRef').map((f) => expressionVal(scope, f));
    if (refs.length === 0) throw new PmmlError(`<PredictorTerm> (line ${p.line}) has no FieldRef`);
    const product = refs.map((r) => numeric(scope.ctx, r)).reduce((a, b) => g.mul(a, b));
    terms.push(g.mul(product, g.scalar(numberAttr(p, 'coefficient'))));
  }
  // Summed in document order, as the evaluators do.
  for (const t of terms) y = g.add(y, t);
  if (terms.length === 0) y = g.add(y, filled(scope.ctx, 0));
  return y;
}

function regressionModel(e: Element, scope: Scope): Result {
  const { g } = scope.ctx;
  const fn = functionOf(e);
  const tables = childrenNamed(e, 'RegressionTable');
  if (tables.length === 0) throw new PmmlError(`<RegressionModel> (line ${e.line}) has no RegressionTable`);
  const method = e.attrs.normalizationMethod ?? 'none';
  if (fn === 'regression') {
    if (tables.length !== 1) throw new PmmlError(`a regression <RegressionModel> (line ${e.line}) has ${tables.length} RegressionTables; it takes one`);
    if (method !== 'none' && !(method in LINKS)) throw new PmmlError(`<RegressionModel> (line ${e.line}) has normalizationMethod "${method}"; for regression the converter takes none, ${Object.keys(LINKS).join(', ')}`);
    const y = regressionTable(scope, tables[0]);
    return { kind: 'regression', value: method === 'none' ? y : link(g, method, y) };
  }
  const classes = classesOf(e, scope);
  const byClass = new Map(tables.map((t) => [attr(t, 'targetCategory'), t]));
  const ys = classes.map((c) => {
    const t = byClass.get(c);
    if (t === undefined) throw new PmmlError(`<RegressionModel> (line ${e.line}) has no RegressionTable for class "${c}"`);
    return regressionTable(scope, t);
  });
  const Y = g.concat(ys);
  let probs: string;
  if (method === 'softmax') {
    // exp(y - max) / sum: the same value as exp(y)/sum(exp(y)), without overflow.
    const shifted = g.exp(g.sub(Y, g.reduce('ReduceMax', Y, [1])));
    probs = g.div(shifted, g.reduce('ReduceSum', shifted, [1]));
  } else if (method === 'simplemax') {
    probs = g.div(Y, g.reduce('ReduceSum', Y, [1]));
  } else if (method === 'none' || method in LINKS) {
    const f = (y: string): string => (method === 'none' ? y : link(g, method, y));
    if (classes.length === 2) {
      // Binary: the first RegressionTable (in document order) gives its class's probability, the other class the rest.
      const first = classes.indexOf(attr(tables[0], 'targetCategory'));
      const p1 = f(ys[first]);
      probs = first === 0 ? g.concat([p1, g.complement(p1)]) : g.concat([g.complement(p1), p1]);
    } else if (e.attrs.targetFieldName !== undefined || method === 'none') {
      probs = f(Y);
    } else {
      // Ordinal: cumulative probabilities F(y_j) of the first C-1 tables, differenced (the last table is the rest).
      const cumulative = ys.slice(0, -1).map(f);
      const parts = cumulative.map((c, i) => (i === 0 ? c : g.sub(c, cumulative[i - 1])));
      parts.push(g.complement(cumulative[cumulative.length - 1]));
      probs = g.concat(parts);
    }
  } else {
    throw new PmmlError(`<RegressionModel> (line ${e.line}) has normalizationMethod "${method}"; the converter takes none, softmax, simplemax, ${Object.keys(LINKS).join(', ')}`);
  }
  return { kind: 'classification', probs, label: argmax(scope.ctx, probs), classes };
}

/** The index of the largest probability (the first, on ties), NaN where the row has no answer. */
export function argmax(ctx: Context, probs: string, axis = 1): string {
  const { g } = ctx;
  const index = g.toDouble(g.op('ArgMax', [probs], { axis, keepdims: 1 }));
  return g.nanWhere(g.isNaN(g.reduce('ReduceSum', probs, [axis])), index);
}

// MiningModel (PMML 4.4, "Multiple Models"): segments combined by multipleModelMethod.
const METHODS = ['sum', 'average', 'weightedAverage', 'median', 'max', 'majorityVote', 'weightedMajorityVote', 'modelChain', 'selectFirst'];

interface SegmentStack {
  /** Regression: [N, K]; classification: probabilities [N, K, C] and labels [N, K]. */
  readonly values?: string;
  readonly probs?: string;
  readonly labels?: string;
  /** Which segments apply per row: [N, K] 0/1. */
  readonly active: string;
  /** Whether every segment applies to every row (all predicates True). */
  readonly allActive: boolean;
  readonly weights: number[];
}

function miningModel(e: Element, scope: Scope): Result {
  const { ctx } = scope;
  const { g } = ctx;
  const fn = functionOf(e);
  const segmentation = child(e, 'Segmentation');
  if (segmentation === undefined) throw new PmmlError(`<MiningModel> (line ${e.line}) has no Segmentation`);
  const method = attr(segmentation, 'multipleModelMethod');
  if (!METHODS.includes(method)) throw new PmmlError(`<Segmentation> (line ${segmentation.line}) has multipleModelMethod "${method}"; the converter takes ${METHODS.join(', ')}`);
  if (segmentation.attrs.missingPredictionTreatment !== undefined && segmentation.attrs.missingPredictionTreatment !== 'returnMissing') {
    throw new PmmlError(`<Segmentation> (line ${segmentation.line}) has missingPredictionTreatment "${segmentation.attrs.missingPredictionTreatment}"; the converter takes returnMissing`);
  }
  const segments = childrenNamed(segmentation, 'Segment');
  if (segments.length === 0) throw new PmmlError(`<Segmentation> (line ${segmentation.line}) has no Segment`);
  const modelOf = (s: Element): Element => {
    const m = s.children.find((c) => MODEL_ELEMENTS.has(c.name));
    if (m === undefined) throw new PmmlError(`<Segment> (line ${s.line}) holds no model`);
    return m;
  };
  const classes = fn === 'classification' ? classesOf(e, scope) : [];

  if (method === 'modelChain') {
    // Each segment's Output fields are fields for the segments after it; the answer is the last segment's.
    let chainScope = scope;
    let last: Result | undefined;
    for (const s of segments) {
      const predicate = alwaysApplies(s);
      if (!predicate) throw new PmmlError(`<Segment> (line ${s.line}) of a modelChain has a predicate other than True, which the converter does not support`);
      const model = modelOf(s);
      const { result, scope: inner } = compileModel(model, chainScope);
      chainScope = outputScope(model, inner, result, chainScope);
      last = result;
    }
    return conformResult(ctx, last!, fn, classes);
  }
  if (method === 'selectFirst') {
    // Every segment runs; each row takes the first whose predicate is true (no segment: no answer).
    let out: Result | undefined;
    for (let i = segments.length - 1; i >= 0; i--) {
      const s = segments[i];
      const r = conformResult(ctx, compileModel(modelOf(s), scope).result, fn, classes);
      const { T } = evaluatePredicate(scope, segmentPredicate(s));
      const chosen = g.toBool(T);
      if (out === undefined) {
        out = r.kind === 'regression' ? { kind: 'regression', value: g.nanWhere(g.not(chosen), r.value) } : { ...r, probs: g.nanWhere(g.not(chosen), r.probs), label: g.nanWhere(g.not(chosen), r.label) };
      } else if (r.kind === 'regression' && out.kind === 'regression') {
        out = { kind: 'regression', value: g.where(chosen, r.value, out.value) };
      } else if (r.kind === 'classification' && out.kind === 'classification') {
        out = { ...r, probs: g.where(chosen, r.probs, out.probs), label: g.where(chosen, r.label, out.label) };
      }
    }
    return out!;
  }

  // Trees with a True predicate, summed or averaged: the shared TreeEnsemble, when every predicate is simple.
  const linear = method === 'sum' ? fn === 'regression' : method === 'average' || method === 'weightedAverage';
  if (linear && segments.every((s) => isForestable(s, modelOf, fn))) {
    const weights = segments.map((s) => (method === 'weightedAverage' ? numberAttr(s, 'weight', 1) : 1));
    const trees = segments.map((s, i) => ({ element: modelOf(s), scope: modelScope(modelOf(s), scope), weight: weights[i] }));
    const divisor = method === 'sum' ? 1 : weights.reduce((a, b) => a + b, 0);
    const fast = ensembleSum(g, trees, fn, classes, divisor);
    if (fast !== undefined) return ensembleResult(ctx, fast, fn, classes, false);
  }
  // The other methods combine every applicable segment's answer.
  const stack = segmentStack(scope, segments, modelOf, fn, classes);
  return combineStack(ctx, stack, method, fn, classes, segmentation);
}

const segmentPredicate = (s: Element): Element => {
  const p = s.children.find((c) => PREDICATES.has(c.name));
  if (p === undefined) throw new PmmlError(`<Segment> (line ${s.line}) has no predicate`);
  return p;
};
const alwaysApplies = (s: Element): boolean => segmentPredicate(s).name === 'True';

/** A segment that is a plain tree of the parent's function, always applying: evaluated with the other trees at once. */
function isForestable(s: Element, modelOf: (s: Element) => Element, fn: FunctionName): boolean {
  const m = modelOf(s);
  return m.name === 'TreeModel' && alwaysApplies(s) && child(m, 'Targets') === undefined && functionOf(m) === fn;
}

/** Every segment's answer stacked: trees with a True predicate are evaluated together as one forest. */
function segmentStack(scope: Scope, segments: readonly Element[], modelOf: (s: Element) => Element, fn: FunctionName, classes: readonly string[]): SegmentStack {
  const { g } = scope.ctx;
  const weights = segments.map((s) => numberAttr(s, 'weight', 1));
  const forestable = segments.every((s) => isForestable(s, modelOf, fn));
  const ones = g.op('Expand', [g.scalar(1), g.op('Concat', [g.op('Shape', [g.input], { start: 0, end: 1 }), g.int64([segments.length])], { axis: 0 })]);
  if (forestable) {
    const trees = segments.map((s) => ({ element: modelOf(s), scope: modelScope(modelOf(s), scope) }));
    const f = evaluateForest(trees, fn, classes);
    return f.kind === 'regression' ? { values: f.values, active: ones, allActive: true, weights } : { probs: f.probs, labels: f.labels, active: ones, allActive: true, weights };
  }
  const values: string[] = [];
  const probs: string[] = [];
  const labels: string[] = [];
  const active: string[] = [];
  for (const s of segments) {
    const r = conformResult(scope.ctx, compileModel(modelOf(s), scope).result, fn, classes);
    active.push(evaluatePredicate(scope, segmentPredicate(s)).T);
    if (r.kind === 'regression') values.push(r.value);
    else {
      probs.push(g.op('Unsqueeze', [r.probs, g.int64([1])]));
      labels.push(r.label);
    }
  }
  const act = g.concat(active);
  const allActive = segments.every(alwaysApplies);
  return fn === 'regression' ? { values: g.concat(values), active: act, allActive, weights } : { probs: g.concat(probs, 1), labels: g.concat(labels), active: act, allActive, weights };
}

function combineStack(ctx: Context, stack: SegmentStack, method: string, fn: FunctionName, classes: readonly string[], segmentation: Element): Result {
  const { g } = ctx;
  const K = stack.weights.length;
  const w = method === 'weightedAverage' || method === 'weightedMajorityVote' ? stack.weights : stack.weights.map(() => 1);
  const W = g.mul(stack.active, g.constant(w, [1, K])); // [N, K]
  const none = g.op('Equal', [g.reduce('ReduceSum', stack.active, [1]), g.scalar(0)]); // [N, 1]: no segment applied
  // A segment that does not apply contributes nothing (its answer, which may be NaN, is masked).
  const masked = (x: string, weights: string): string => g.where(g.toBool(weights), g.mul(x, weights), g.scalar(0));
  if (fn === 'regression') {
    const v = stack.values!;
    let out: string;
    switch (method) {
      case 'sum':
        out = g.reduce('ReduceSum', masked(v, stack.active), [1]);
        break;
      case 'average':
      case 'weightedAverage':
        out = g.div(g.reduce('ReduceSum', masked(v, W), [1]), g.reduce('ReduceSum', W, [1]));
        break;
      case 'max':
        out = g.reduce('ReduceMax', g.where(g.toBool(stack.active), v, g.scalar(-Infinity)), [1]);
        break;
      case 'median': {
        if (!stack.allActive) throw new PmmlError(`<Segmentation> (line ${segmentation.line}): median over segments with predicates is not supported`);
        // Sorted with TopK; an even count averages the two middle values.
        const [sorted] = g.opN('TopK', [v, g.int64([K])], 2, { axis: 1, largest: 1, sorted: 1 });
        const mid = Math.floor(K / 2);
        out = K % 2 === 1 ? g.column(sorted, mid) : g.div(g.add(g.column(sorted, mid - 1), g.column(sorted, mid)), g.scalar(2));
        break;
      }
      default:
        throw new PmmlError(`<Segmentation> (line ${segmentation.line}): multipleModelMethod ${method} does not apply to regression`);
    }
    // A segment that applies but has no answer makes the whole answer missing (missingPredictionTreatment returnMissing).
    const anyMissing = g.op('Greater', [g.reduce('ReduceSum', g.mul(g.toDouble(g.isNaN(v)), stack.active), [1]), g.scalar(0)]);
    return { kind: 'regression', value: g.nanWhere(g.op('Or', [anyMissing, none]), out) };
  }
  const P = stack.probs!; // [N, K, C]
  const L = stack.labels!; // [N, K]
  const C = classes.length;
  let probs: string;
  switch (method) {
    case 'average':
    case 'weightedAverage':
    case 'sum': {
      const w3 = g.op('Unsqueeze', [W, g.int64([2])]);
      const total = g.reduce('ReduceSum', g.where(g.toBool(w3), g.mul(P, w3), g.scalar(0)), [1], 0); // [N, C]
      probs = method === 'sum' ? total : g.div(total, g.reduce('ReduceSum', W, [1]));
      break;
    }
    case 'majorityVote':
    case 'weightedMajorityVote': {
      // Each segment votes for its label with its weight; probabilities are the vote shares.
      const onehot = g.compare('Equal', g.op('Unsqueeze', [L, g.int64([2])]), g.constant(classes.map((_, i) => i), [1, 1, C]));
      const votes = g.reduce('ReduceSum', g.mul(onehot, g.op('Unsqueeze', [W, g.int64([2])])), [1], 0);
      probs = g.div(votes, g.reduce('ReduceSum', W, [1]));
      // Ties go to the class voted for first (JPMML-Evaluator counts votes in an insertion-ordered map).
      const order = g.constant(Array.from({ length: K }, (_, k) => k), [1, K, 1]);
      const firstVote = g.reduce('ReduceMin', g.where(g.toBool(g.mul(onehot, g.op('Unsqueeze', [stack.active, g.int64([2])]))), order, g.scalar(K)), [1], 0); // [N, C]
      const top = g.op('Equal', [votes, g.reduce('ReduceMax', votes, [1])]);
      const label = g.toDouble(g.op('ArgMax', [g.where(top, g.neg(firstVote), g.scalar(-Infinity))], { axis: 1, keepdims: 1 }));
      const missingVotes = g.op('Greater', [g.reduce('ReduceSum', g.mul(g.toDouble(g.isNaN(L)), stack.active), [1]), g.scalar(0)]);
      const noAnswer = g.op('Or', [missingVotes, none]);
      return { kind: 'classification', probs: g.nanWhere(noAnswer, probs), label: g.nanWhere(noAnswer, label), classes };
    }
    case 'max': {
      // The segment whose winning probability is largest answers (the first, on ties).
      const best = g.reduce('ReduceMax', P, [2], 0); // [N, K]
      const masked2 = g.where(g.toBool(stack.active), best, g.scalar(-Infinity));
      const k = g.op('ArgMax', [masked2], { axis: 1, keepdims: 1 });
      probs = g.op('Squeeze', [g.op('GatherElements', [P, g.op('Expand', [g.op('Unsqueeze', [k, g.int64([2])]), g.op('Concat', [g.op('Shape', [P], { start: 0, end: 1 }), g.int64([1, C])], { axis: 0 })])], { axis: 1 }), g.int64([1])]);
      break;
    }
    default:
      throw new PmmlError(`<Segmentation> (line ${segmentation.line}): multipleModelMethod ${method} does not apply to classification`);
  }
  const anyMissing = g.op('Greater', [g.reduce('ReduceSum', g.mul(g.toDouble(g.isNaN(L)), stack.active), [1]), g.scalar(0)]);
  probs = g.nanWhere(g.op('Or', [anyMissing, none]), probs);
  return { kind: 'classification', probs, label: argmax(ctx, probs), classes };
}

/** A segment's answer in its parent's terms: the same function, and the parent's class order. */
function conformResult(ctx: Context, r: Result, fn: FunctionName, classes: readonly string[]): Result {
  const { g } = ctx;
  if (r.kind !== fn) throw new PmmlError(`a ${r.kind} segment inside a ${fn} MiningModel is not supported here (use modelChain with Output fields)`);
  if (r.kind === 'regression') return r;
  if (r.classes.length === classes.length && r.classes.every((c, i) => c === classes[i])) return r;
  const order = classes.map((c) => r.classes.indexOf(c));
  if (order.some((i) => i < 0)) throw new PmmlError(`a segment's classes (${r.classes.join(', ')}) differ from its MiningModel's (${classes.join(', ')})`);
  const probs = g.gather(r.probs, order);
  return { kind: 'classification', probs, label: argmax(ctx, probs), classes };
}

// Targets (PMML 4.4, "Targets"): regression answers rescaled, clamped and cast; a classifier with no
// answer falls back to the TargetValues' priorProbability.
function applyTargets(e: Element, scope: Scope, r: Result): Result {
  const targets = child(e, 'Targets');
  if (targets === undefined) return r;
  const list = childrenNamed(targets, 'Target');
  if (list.length > 1) throw new PmmlError(`<Targets> (line ${targets.line}) has ${list.length} Target elements; the converter takes models with one target`);
  if (list.length === 0) return r;
  const t = list[0];
  const { g } = scope.ctx;
  if (r.kind === 'regression') {
    // PMML 4.4, Targets: the value is first clamped to [min, max], then rescaled, then cast.
    let y = r.value;
    if (t.attrs.min !== undefined) y = g.op('Max', [y, g.scalar(numberAttr(t, 'min'))]);
    if (t.attrs.max !== undefined) y = g.op('Min', [y, g.scalar(numberAttr(t, 'max'))]);
    const factor = numberAttr(t, 'rescaleFactor', 1);
    const constant = numberAttr(t, 'rescaleConstant', 0);
    if (factor !== 1) y = g.mul(y, g.scalar(factor));
    if (constant !== 0) y = g.add(y, g.scalar(constant));
    const cast = t.attrs.castInteger;
    if (cast !== undefined) {
      if (cast === 'round') y = g.op('Floor', [g.add(y, g.scalar(0.5))]);
      else if (cast === 'ceiling') y = g.op('Ceil', [y]);
      else if (cast === 'floor') y = g.op('Floor', [y]);
      else throw new PmmlError(`<Target> (line ${t.line}) has castInteger "${cast}"; PMML knows round, ceiling and floor`);
    }
    const prior = childrenNamed(t, 'TargetValue').find((v) => v.attrs.defaultValue !== undefined);
    if (prior !== undefined) y = g.where(g.isNaN(y), g.scalar(numberAttr(prior, 'defaultValue')), y);
    return { kind: 'regression', value: y };
  }
  const priors = r.classes.map((c) => {
    const v = childrenNamed(t, 'TargetValue').find((x) => x.attrs.value === c);
    return v?.attrs.priorProbability === undefined ? NaN : numberAttr(v, 'priorProbability');
  });
  if (priors.every((p) => Number.isNaN(p))) return r;
  const missing = g.isNaN(g.reduce('ReduceSum', r.probs, [1]));
  const probs = g.where(missing, g.constant(priors, [1, priors.length]), r.probs);
  return { ...r, probs, label: argmax(scope.ctx, probs) };
}

// Output fields (PMML 4.4, "Output"): the ones a modelChain passes on, and transformed values.
export function outputScope(model: Element, inner: Scope, result: Result, parent: Scope): Scope {
  const output = child(model, 'Output');
  const scope = new Scope(parent.ctx, parent);
  if (output === undefined) return scope;
  const { g } = parent.ctx;
  // Output fields see the model's fields and each other (earlier ones).
  const local = new Scope(parent.ctx, inner);
  for (const f of childrenNamed(output, 'OutputField')) {
    const name = attr(f, 'name');
    const feature = f.attrs.feature ?? 'predictedValue';
    let v: Val;
    if (feature === 'predictedValue') {
      if (result.kind === 'regression') v = { t: result.value, dataType: 'double', optype: 'continuous' };
      else v = { t: result.label, domain: result.classes, dataType: 'string', optype: 'categorical' };
    } else if (feature === 'probability') {
      if (result.kind !== 'classification') throw new PmmlError(`<OutputField name="${name}"> (line ${f.line}) asks a regression model for a probability`);
      const value = f.attrs.value;
      const c = value === undefined ? -1 : result.classes.indexOf(value);
      const t = value === undefined ? g.reduce('ReduceMax', result.probs, [1]) : c < 0 ? undefined : g.column(result.probs, c);
      if (t === undefined) throw new PmmlError(`<OutputField name="${name}"> (line ${f.line}) asks for the probability of "${value}", which is not a class (${result.classes.join(', ')})`);
      v = { t, dataType: 'double', optype: 'continuous' };
    } else if (feature === 'transformedValue' || feature === 'decision') {
      const expression = f.children.find((c) => EXPRESSIONS.has(c.name));
      if (expression === undefined) throw new PmmlError(`<OutputField name="${name}"> (line ${f.line}) is a ${feature} with no expression`);
      v = expressionVal(local, expression);
    } else {
      throw new PmmlError(`<OutputField name="${name}"> (line ${f.line}) has feature "${feature}"; the converter takes predictedValue, probability and transformedValue`);
    }
    if (f.attrs.dataType !== undefined) v = castTo(parent.ctx, v, f.attrs.dataType, (f.attrs.optype as Val['optype'] | undefined) ?? v.optype);
    local.set(name, v);
    scope.set(name, v);
  }
  return scope;
}
