/**
 * The fast path for the trees producers write most (sklearn2pmml's decision trees, random forests and
 * gradient boosting): when every predicate compares one field with one value (or a set), the trees
 * become the shared ai.onnx.ml TreeEnsemble (lambda/convert/tree-ensemble.ts) instead of the matrix
 * walk of tree.ts, with the same answers:
 *   - a node's children, tried in order, become a chain of binary splits: child i's predicate true →
 *     child i, false → the next child; past the last, noTrueChildStrategy's leaf (the node's score, or
 *     NaN for no answer);
 *   - a missing value: under "none" the predicate is false (the split's false side); under
 *     nullPrediction and lastPrediction a guard split (x ≤ +∞, NaN going false) first sends it to a
 *     NaN leaf or to the node's score;
 *   - classification: each leaf is a row of a table of class probabilities (and the label), so each
 *     tree is walked once and its rows gathered and summed after.
 * Anything else (compound predicates, isMissing, defaultChild, per-tree answers for votes and
 * medians) returns undefined and tree.ts evaluates it.
 */
import { GraphBuilder as EnsembleGraph } from '../onnx/graph.ts';
import { emitTreeEnsemble, MAX_TREE_DEPTH, type Leaf, type Split, type Tree, type TreeNode } from '../tree-ensemble.ts';
import type { GraphBuilder } from './graph.ts';
import { PREDICATES } from './predicates.ts';
import { arrayLiterals, domainIndex, type Scope, type Val } from './scope.ts';
import { child, childrenNamed, numberAttr, type Element } from './xml.ts';

export interface EnsembleTree {
  readonly element: Element;
  readonly scope: Scope;
  /** Multiplies every leaf (weightedAverage). */
  readonly weight: number;
}

class NotSimple extends Error {}

/** [N, 1] (regression) or [N, C] (class probabilities): Σ over trees of weight × leaf, divided by `divisor`; undefined when a tree does not fit. */
export function ensembleSum(g: GraphBuilder, trees: readonly EnsembleTree[], fn: 'regression' | 'classification', classes: readonly string[], divisor: number, withLabel = false): string | undefined {
  const columns = new Map<string, number>();
  const tensors: string[] = [];
  const sources: (Val['source'] | undefined)[] = [];
  const columnOf = (v: Val): number => {
    let c = columns.get(v.t);
    if (c === undefined) {
      c = tensors.length;
      columns.set(v.t, c);
      tensors.push(v.t);
      sources.push(v.source);
    }
    return c;
  };
  // A single classification tree also answers its label: one more target, the answering node's score as a class index.
  const C = fn === 'classification' ? classes.length : 1;
  const targets = C + (withLabel && fn === 'classification' ? 1 : 0);
  const described: Tree[] = [];
  // Row 0: no answer.
  const table: number[][] = [Array.from({ length: targets }, () => Number.NaN)];
  try {
    for (const { element, scope, weight } of trees) {
      const strategy = element.attrs.missingValueStrategy ?? 'none';
      if (strategy !== 'none' && strategy !== 'nullPrediction' && strategy !== 'lastPrediction') return undefined;
      const noTrueLast = (element.attrs.noTrueChildStrategy ?? 'returnNullPrediction') === 'returnLastPrediction';
      const roots = childrenNamed(element, 'Node');
      if (roots.length !== 1) return undefined;
      const root = roots[0];
      const rootPredicate = predicateOf(root);
      if (rootPredicate.name !== 'True') return undefined;
      // One value per tree (regression): the leaf is the value. Several (classes, the label): the leaf is a
      // row of a table of answers, gathered after the ensemble, so each tree is walked once.
      const byRow = targets > 1;
      const leafOf = (node: Element | undefined): Leaf => {
        if (!byRow) return { value: node === undefined ? Number.NaN : weight * answer(node, fn, classes, 0) };
        if (node === undefined) return { value: 0 };
        const row = Array.from({ length: targets }, (_, k) => (k === C ? labelIndex(node, classes) : weight * answer(node, fn, classes, k)));
        table.push(row);
        return { value: table.length - 1 };
      };
      const nothing = (): Leaf => (byRow ? { value: 0 } : { value: Number.NaN });
      // A node's subtree; `scored` is the nearest node with an answer (lastPrediction, returnLastPrediction).
      // `depth` counts the splits above: past MAX_TREE_DEPTH (onnxruntime builds trees recursively) the matrix walk takes over.
      const subtree = (node: Element, scored: Element | undefined, depth: number): TreeNode => {
        const here = hasAnswer(node) ? node : scored;
        const children = childrenNamed(node, 'Node');
        if (children.length === 0) return leafOf(here);
        const chain = (i: number, at: number): TreeNode => {
          if (at > MAX_TREE_DEPTH) throw new NotSimple();
          if (i === children.length) return noTrueLast ? leafOf(here) : nothing();
          const c = children[i];
          const p = predicateOf(c);
          if (p.name === 'True') return subtree(c, here, at);
          if (p.name === 'False') return chain(i + 1, at);
          const split = simpleSplit(p, scope, columnOf, subtree(c, here, at + 2), chain(i + 1, at + 2));
          if (strategy === 'none') return split;
          // Missing first: a guard (x ≤ +∞ is true for every number) sends NaN to no answer or to the last prediction.
          return { feature: split.feature, mode: 'LEQ', threshold: Number.POSITIVE_INFINITY, missingGoesTrue: false, whenTrue: split, whenFalse: strategy === 'nullPrediction' ? nothing() : leafOf(here) };
        };
        return chain(0, depth);
      };
      described.push({ root: subtree(root, undefined, 0), target: byRow ? described.length : 0 });
    }
  } catch (error) {
    if (error instanceof NotSimple) return undefined;
    throw error;
  }
  if (tensors.length === 0) return undefined;
  // The shared emitter writes into its own builder; its nodes join this graph under a prefix.
  // Columns of one matrix (the input, as the trees take it): one Gather; else the values side by side.
  const matrix = sources[0]?.matrix;
  const input = matrix !== undefined && sources.every((x) => x?.matrix === matrix) ? g.gather(matrix, sources.map((x) => x!.column)) : g.concat(tensors);
  const sub = new EnsembleGraph();
  if (targets === 1) {
    const out = emitTreeEnsemble(sub, input, { elementType: 'FP64', features: tensors.length, targets: 1, trees: described, ...(divisor !== 1 ? { divisor } : {}) });
    return g.adopt(sub.nodes, sub.initializers, input, out);
  }
  // Each tree's leaf row [N, T], its answers [N, T, targets], summed over the trees in order.
  const rows = g.adopt(sub.nodes, sub.initializers, input, emitTreeEnsemble(sub, input, { elementType: 'FP64', features: tensors.length, targets: described.length, trees: described }));
  const answers = g.op('Gather', [g.constant(table.flat(), [table.length, targets]), g.op('Cast', [rows], { to: 7 })], { axis: 0 });
  const sum = g.reduce('ReduceSum', answers, [1], 0);
  return divisor === 1 ? sum : g.div(sum, g.scalar(divisor));
}

function predicateOf(node: Element): Element {
  const p = node.children.find((c) => PREDICATES.has(c.name));
  if (p === undefined) throw new NotSimple();
  return p;
}

const hasAnswer = (node: Element): boolean => node.attrs.score !== undefined || child(node, 'ScoreDistribution') !== undefined;

/** A leaf's value: the score (regression), or the probability of class `target` (classification). */
function answer(node: Element, fn: 'regression' | 'classification', classes: readonly string[], target: number): number {
  if (fn === 'regression') return node.attrs.score === undefined ? Number.NaN : numberAttr(node, 'score');
  const sds = childrenNamed(node, 'ScoreDistribution');
  if (sds.length === 0) return node.attrs.score === undefined ? Number.NaN : node.attrs.score === classes[target] ? 1 : 0;
  // As tree.ts: the probability attributes when every ScoreDistribution has one, else recordCount / total.
  if (sds.every((sd) => sd.attrs.probability !== undefined)) {
    const sd = sds.find((x) => x.attrs.value === classes[target]);
    return sd === undefined ? 0 : numberAttr(sd, 'probability');
  }
  const total = sds.reduce((s, sd) => s + numberAttr(sd, 'recordCount'), 0);
  const sd = sds.find((x) => x.attrs.value === classes[target]);
  if (!(total > 0)) return 0;
  return sd === undefined ? 0 : numberAttr(sd, 'recordCount') / total;
}

/** The class a node answers: its score, else its distribution's most likely class (the first, on ties). */
function labelIndex(node: Element, classes: readonly string[]): number {
  if (node.attrs.score !== undefined) {
    const i = classes.indexOf(node.attrs.score);
    return i < 0 ? Number.NaN : i;
  }
  const values = classes.map((_, c) => answer(node, 'classification', classes, c));
  return values.indexOf(Math.max(...values));
}

/** One simple predicate as a split (whenTrue: the child; whenFalse: the rest of the chain). */
function simpleSplit(p: Element, scope: Scope, columnOf: (v: Val) => number, whenTrue: TreeNode, whenFalse: TreeNode): Split {
  if (p.name === 'SimplePredicate') {
    const v = scope.get(p.attrs.field ?? '');
    const op = p.attrs.operator;
    const raw = p.attrs.value;
    if (raw === undefined || op === 'isMissing' || op === 'isNotMissing') throw new NotSimple();
    const literal = literalOf(v, raw);
    if (literal === undefined) throw new NotSimple();
    const feature = columnOf(v);
    const base = { feature, missingGoesTrue: false };
    switch (op) {
      case 'lessOrEqual': return { ...base, mode: 'LEQ', threshold: literal, whenTrue, whenFalse };
      case 'lessThan': return { ...base, mode: 'LT', threshold: literal, whenTrue, whenFalse };
      // x > t is not (x <= t): the same split, branches swapped (a missing value never reaches it: the guard, or "none" sends it false).
      case 'greaterThan': return { ...base, mode: 'LEQ', threshold: literal, missingGoesTrue: true, whenTrue: whenFalse, whenFalse: whenTrue };
      case 'greaterOrEqual': return { ...base, mode: 'LT', threshold: literal, missingGoesTrue: true, whenTrue: whenFalse, whenFalse: whenTrue };
      case 'equal': return { ...base, mode: 'MEMBER', members: [literal], whenTrue, whenFalse };
      case 'notEqual': return { ...base, mode: 'MEMBER', members: [literal], missingGoesTrue: true, whenTrue: whenFalse, whenFalse: whenTrue };
      default: throw new NotSimple();
    }
  }
  if (p.name === 'SimpleSetPredicate') {
    const v = scope.get(p.attrs.field ?? '');
    const array = child(p, 'Array');
    if (array === undefined || v.domain === undefined) throw new NotSimple();
    const members = arrayLiterals(v, array).filter((m) => m >= 0);
    if (members.length === 0) throw new NotSimple();
    const feature = columnOf(v);
    if (p.attrs.booleanOperator === 'isIn') return { feature, mode: 'MEMBER', members, missingGoesTrue: false, whenTrue, whenFalse };
    if (p.attrs.booleanOperator === 'isNotIn') return { feature, mode: 'MEMBER', members, missingGoesTrue: true, whenTrue: whenFalse, whenFalse: whenTrue };
  }
  throw new NotSimple();
}

/** The value a field's tensor holds for a literal: as predicates.ts reads it (float fields in float32, categories by index). */
function literalOf(v: Val, raw: string): number | undefined {
  if (v.domain !== undefined) {
    const i = domainIndex(v.domain, raw, v.dataType);
    return i < 0 ? undefined : i;
  }
  if (v.dataType === 'boolean') return raw === 'true' || raw === '1' ? 1 : raw === 'false' || raw === '0' ? 0 : undefined;
  const n = Number(raw.trim());
  if (raw.trim() === '' || Number.isNaN(n)) return undefined;
  return v.dataType === 'float' ? Math.fround(n) : n;
}
