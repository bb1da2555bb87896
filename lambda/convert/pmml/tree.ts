/**
 * TreeModel (PMML 4.4, "TreeModel"), one tree or a forest of them evaluated together. PMML trees
 * are not binary splits on one feature: a node's children are tried in order and the first whose
 * predicate is TRUE is taken, predicates may be compound, and an UNKNOWN predicate (a missing input)
 * is handled by the tree's missingValueStrategy. So instead of ONNX's TreeEnsemble, whose nodes
 * compare one feature with one threshold, the trees are evaluated as matrices, every node at once:
 *   - each node's predicate gives T and U columns (predicates.ts);
 *   - a child is taken when its predicate is TRUE and every earlier sibling's is FALSE (a cumulative
 *     sum over siblings); an UNKNOWN first decides by the strategy: stop at the parent
 *     (lastPrediction), stop with no answer (nullPrediction), go to the default child
 *     (defaultChild); weightedConfidence and aggregateNodes are refused (no reference evaluator
 *     implements them to check against);
 *   - the weight reaching each node is its parent's times the edge's, one gather per tree level;
 *   - a node ends the walk when it is a leaf, or when the walk stops there (an unknown predicate
 *     under lastPrediction, or no true child under noTrueChildStrategy returnLastPrediction);
 *   - each tree's answer is the sum over nodes of (weight ending there) x (node score or
 *     distribution); a walk ending with no answer makes the tree's answer missing.
 */
import { PmmlError } from './errors.ts';
import { PredicateTable, type PredicateRef } from './predicates.ts';
import type { Scope } from './scope.ts';
import { attr, childrenNamed, numberAttr, type Element } from './xml.ts';

type Strategy = 'none' | 'lastPrediction' | 'nullPrediction' | 'defaultChild' | 'weightedConfidence' | 'aggregateNodes';
const STRATEGIES = new Set<Strategy>(['none', 'lastPrediction', 'nullPrediction', 'defaultChild', 'weightedConfidence', 'aggregateNodes']);

interface FlatNode {
  readonly tree: number;
  readonly parent: number;
  readonly pred: PredicateRef;
  readonly children: number[];
  /** Regression: the score; classification: the score's class index (NaN: none). */
  readonly score: number;
  /** Classification: class probabilities. */
  readonly dist?: number[];
  readonly recordCount?: number;
  readonly defaultChild?: string;
  readonly id?: string;
}

/** Per tree: values [N, trees] (regression) or probabilities [N, trees, C] and labels [N, trees] (classification). */
export type ForestResult =
  | { readonly kind: 'regression'; readonly values: string; readonly trees: number }
  | { readonly kind: 'classification'; readonly probs: string; readonly labels: string; readonly trees: number; readonly classes: readonly string[] };

export interface TreeInput {
  readonly element: Element;
  readonly scope: Scope;
}

/** Evaluates trees that share a function (and, for classification, classes). */
export function evaluateForest(trees: readonly TreeInput[], functionName: 'regression' | 'classification', classes: readonly string[]): ForestResult {
  const ctx = trees[0].scope.ctx;
  const { g } = ctx;
  const table = new PredicateTable(ctx);
  const nodes: FlatNode[] = [];
  const strategies: Strategy[] = [];
  const noTrueLast: boolean[] = [];
  const roots: number[] = [];
  const C = classes.length;

  // Read every tree, breadth first across all trees: each level is a contiguous range, and each node's children are contiguous.
  const queue: { e: Element; tree: number; parent: number; inherited: number; inheritedDist?: number[] }[] = [];
  trees.forEach(({ element, scope }, t) => {
    const strategy = (element.attrs.missingValueStrategy ?? 'none') as Strategy;
    if (!STRATEGIES.has(strategy)) throw new PmmlError(`<TreeModel> (line ${element.line}) has missingValueStrategy "${strategy}"; PMML knows ${[...STRATEGIES].join(', ')}`);
    if (strategy === 'weightedConfidence' || strategy === 'aggregateNodes') {
      // No reference evaluator scores these (JPMML-Evaluator and PyPMML both refuse them), so equality with
      // one could not be shown; the converter refuses rather than guess.
      throw new PmmlError(`<TreeModel> (line ${element.line}) has missingValueStrategy "${strategy}", which the converter does not support (no reference PMML evaluator implements it to check against); supported: none, lastPrediction, nullPrediction, defaultChild`);
    }
    const noTrue = element.attrs.noTrueChildStrategy ?? 'returnNullPrediction';
    if (noTrue !== 'returnNullPrediction' && noTrue !== 'returnLastPrediction') throw new PmmlError(`<TreeModel> (line ${element.line}) has noTrueChildStrategy "${noTrue}"; PMML knows returnNullPrediction and returnLastPrediction`);
    strategies.push(strategy);
    noTrueLast.push(noTrue === 'returnLastPrediction');
    const root = childrenNamed(element, 'Node');
    if (root.length !== 1) throw new PmmlError(`<TreeModel> (line ${element.line}) has ${root.length} root <Node> elements; it needs one`);
    queue.push({ e: root[0], tree: t, parent: -1, inherited: NaN });
  });
  const scopes = trees.map((t) => t.scope);
  for (let head = 0; head < queue.length; head++) {
    const { e, tree, parent, inherited, inheritedDist } = queue[head];
    const index = nodes.length;
    if (parent === -1) roots.push(index);
    else nodes[parent].children.push(index);
    const pred = table.add(scopes[tree], PredicateTable.of(e));
    const raw = e.attrs.score;
    let score = NaN;
    if (raw !== undefined) {
      if (functionName === 'regression') score = numberAttr(e, 'score');
      else {
        score = classes.indexOf(raw);
        if (score < 0) throw new PmmlError(`<Node score="${raw}"> (line ${e.line}) names a class the target does not list (${classes.join(', ')})`);
      }
    }
    const dist = functionName === 'classification' ? distribution(e, classes) : undefined;
    const own: FlatNode = {
      tree,
      parent,
      pred,
      children: [],
      // lastPrediction and returnLastPrediction answer with the nearest scored ancestor.
      score: Number.isNaN(score) ? inherited : score,
      ...(dist !== undefined ? { dist } : inheritedDist !== undefined ? { dist: inheritedDist } : {}),
      ...(e.attrs.recordCount !== undefined ? { recordCount: numberAttr(e, 'recordCount') } : {}),
      ...(e.attrs.defaultChild !== undefined ? { defaultChild: e.attrs.defaultChild } : {}),
      ...(e.attrs.id !== undefined ? { id: e.attrs.id } : {}),
    };
    nodes.push(own);
    for (const c of childrenNamed(e, 'Node')) queue.push({ e: c, tree, parent: index, inherited: own.score, inheritedDist: own.dist });
  }
  const M = nodes.length;
  const T = trees.length;

  // Per-node constants.
  const levels: number[][] = [];
  const depth = new Array<number>(M).fill(0);
  for (let n = 0; n < M; n++) {
    depth[n] = nodes[n].parent === -1 ? 0 : depth[nodes[n].parent] + 1;
    (levels[depth[n]] ??= []).push(n);
  }
  const R = roots.length;
  const childCount = M - R; // non-root nodes are n = R..M-1, in the same order
  const edgeWeight = new Float64Array(childCount); // taken on an unknown at the parent
  const unknownStops = new Float64Array(childCount); // 1 where the tree uses the unknown at all (not "none")
  for (let n = R; n < M; n++) {
    const node = nodes[n];
    const parent = nodes[node.parent];
    const strategy = strategies[node.tree];
    unknownStops[n - R] = strategy === 'none' ? 0 : 1;
    if (strategy === 'defaultChild') {
      if (parent.defaultChild === undefined) edgeWeight[n - R] = 0;
      else edgeWeight[n - R] = node.id === parent.defaultChild ? 1 : 0;
    }
  }
  for (let n = 0; n < M; n++) {
    const node = nodes[n];
    if (strategies[node.tree] === 'defaultChild' && node.children.length > 0 && node.defaultChild !== undefined && !node.children.some((c) => nodes[c].id === node.defaultChild)) {
      throw new PmmlError(`a node's defaultChild "${node.defaultChild}" is not the id of one of its children`);
    }
  }

  // Predicates of every node; the root's decides whether the tree answers at all.
  const { T: predT, U: predU } = table.evaluate(nodes.map((n) => n.pred));
  const cols = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
  const childT = g.gather(predT, cols(R, M));
  const childU = g.mul(g.gather(predU, cols(R, M)), g.constant(unknownStops, [1, childCount]));
  // Siblings: count the non-false ones before each child.
  const nonFalse = g.add(childT, childU);
  const inclusive = g.op('CumSum', [nonFalse, g.int64([1], [])]);
  const exclusive = g.sub(inclusive, nonFalse);
  const groupStart = new Array<number>(childCount);
  for (let n = 0; n < M; n++) {
    const ch = nodes[n].children;
    for (const c of ch) groupStart[c - R] = ch[0] - R;
  }
  const before = g.sub(exclusive, g.gather(exclusive, groupStart));
  const first = g.compare('Equal', before, g.scalar(0));
  const take = g.mul(first, childT);
  const unknownHere = g.mul(first, childU);
  // Per node: whether the walk met an unknown among its children, and whether no child was true.
  const pad = (x: string): string => g.concat([x, g.gather(g.sub(x, x), [0])]);
  const firstChild = nodes.map((n) => (n.children.length > 0 ? n.children[0] - R : childCount));
  const lastChild = nodes.map((n) => (n.children.length > 0 ? n.children[n.children.length - 1] - R : childCount));
  const groupSum = (x: string): string => {
    const inc = pad(g.op('CumSum', [x, g.int64([1], [])]));
    const exc = pad(g.op('CumSum', [x, g.int64([1], [])], { exclusive: 1 }));
    return g.sub(g.gather(inc, lastChild), g.gather(exc, firstChild));
  };
  const stopUnknown = groupSum(unknownHere); // [N, M]
  const hasChildren = nodes.map((n) => (n.children.length > 0 ? 1 : 0));
  const noTrue = g.mul(g.compare('Equal', groupSum(nonFalse), g.scalar(0)), g.constant(hasChildren, [1, M]));
  // Edge weights: taken, or entered on an unknown at the parent.
  const parentOfChild = cols(R, M).map((n) => nodes[n].parent);
  const edge = g.add(take, g.mul(g.gather(stopUnknown, parentOfChild), g.constant(edgeWeight, [1, childCount])));
  // Weights reaching each node, a level at a time.
  let reachLevel = g.gather(predT, roots);
  const reachParts = [reachLevel];
  let levelStart = 0;
  for (let d = 1; d < levels.length; d++) {
    const prev = levels[d - 1];
    const level = levels[d];
    const parents = level.map((n) => nodes[n].parent - levelStart);
    const weights = g.op('Slice', [edge, g.int64([level[0] - R]), g.int64([level[level.length - 1] - R + 1]), g.int64([1])]);
    reachLevel = g.mul(g.gather(reachLevel, parents), weights);
    reachParts.push(reachLevel);
    levelStart += prev.length;
  }
  const reach = g.concat(reachParts);
  // Where walks end, with an answer (term) or without (lost).
  const strategyOf = (s: Strategy): number[] => nodes.map((n) => (strategies[n.tree] === s ? 1 : 0));
  const lastOnUnknown = g.constant(strategyOf('lastPrediction'), [1, M]);
  const nullOnUnknown = g.constant(strategyOf('nullPrediction'), [1, M]);
  const lastOnNoTrue = g.constant(nodes.map((n) => (noTrueLast[n.tree] ? 1 : 0)), [1, M]);
  const isLeaf = g.constant(hasChildren.map((h) => 1 - h), [1, M]);
  const stopsWithScore = g.add(isLeaf, g.add(g.mul(stopUnknown, lastOnUnknown), g.mul(noTrue, lastOnNoTrue)));
  const stopsWithout = g.add(g.mul(stopUnknown, nullOnUnknown), g.mul(noTrue, g.complement(lastOnNoTrue)));
  let term = g.mul(reach, stopsWithScore);
  // A node that ends a walk without a score (or distribution) gives no answer.
  const hasAnswer = nodes.map((n) => (functionName === 'regression' ? (Number.isNaN(n.score) ? 0 : 1) : n.dist !== undefined || !Number.isNaN(n.score) ? 1 : 0));
  const lost = g.add(g.mul(reach, stopsWithout), g.mul(term, g.constant(hasAnswer.map((h) => 1 - h), [1, M])));
  term = g.mul(term, g.constant(hasAnswer, [1, M]));

  // Per tree sums: gather each tree's nodes into [N, T, K] (padded with a zero column), then sum.
  const members: number[][] = Array.from({ length: T }, () => []);
  nodes.forEach((n, i) => members[n.tree].push(i));
  const K = Math.max(...members.map((m) => m.length));
  const index = new Array<number>(T * K).fill(M);
  members.forEach((m, t) => m.forEach((n, j) => (index[t * K + j] = n)));
  const perTree = (x: string): string => g.gather(pad(x), g.int64(index, [T, K]), 1); // [N, T, K]
  const sumPerTree = (x: string): string => g.reduce('ReduceSum', perTree(x), [2], 0); // [N, T]
  const rootLost = g.complement(g.gather(predT, roots));
  const missing = g.op('Greater', [g.add(sumPerTree(lost), rootLost), g.scalar(0)]); // [N, T] bool
  if (functionName === 'regression') {
    const scores = g.constant(nodes.map((n) => (Number.isNaN(n.score) ? 0 : n.score)), [1, M]);
    const values = g.nanWhere(missing, sumPerTree(g.mul(term, scores)));
    return { kind: 'regression', values, trees: T };
  }
  const dist = new Float64Array(T * K * C);
  members.forEach((m, t) => m.forEach((n, j) => {
    const node = nodes[n];
    const d = node.dist ?? (Number.isNaN(node.score) ? undefined : classes.map((_, c) => (c === node.score ? 1 : 0)));
    if (d !== undefined) for (let c = 0; c < C; c++) dist[(t * K + j) * C + c] = d[c];
  }));
  const gathered = g.op('Unsqueeze', [perTree(term), g.int64([2])]); // [N, T, 1, K]
  let probs = g.op('Squeeze', [g.matmul(gathered, g.constant(dist, [T, K, C])), g.int64([2])]); // [N, T, C]
  // One leaf answers each walk: the label is its score's class.
  const scoreIndex = g.constant(nodes.map((n) => (Number.isNaN(n.score) ? 0 : n.score)), [1, M]);
  let labels = sumPerTree(g.mul(term, scoreIndex));
  probs = g.nanWhere(g.op('Unsqueeze', [missing, g.int64([2])]), probs);
  labels = g.nanWhere(missing, labels);
  return { kind: 'classification', probs, labels, trees: T, classes };
}

/** A node's class distribution: the probability attributes, else recordCount / total. */
function distribution(e: Element, classes: readonly string[]): number[] | undefined {
  const sds = childrenNamed(e, 'ScoreDistribution');
  if (sds.length === 0) return undefined;
  const out = new Array<number>(classes.length).fill(0);
  const counts = new Array<number>(classes.length).fill(0);
  let total = 0;
  let probabilities = true;
  for (const sd of sds) {
    const value = attr(sd, 'value');
    const c = classes.indexOf(value);
    if (c < 0) throw new PmmlError(`<ScoreDistribution value="${value}"> (line ${sd.line}) names a class the target does not list (${classes.join(', ')})`);
    const count = numberAttr(sd, 'recordCount');
    counts[c] = count;
    total += count;
    if (sd.attrs.probability !== undefined) out[c] = numberAttr(sd, 'probability');
    else probabilities = false;
  }
  if (probabilities) return out;
  if (!(total > 0)) return counts.map(() => 0);
  return counts.map((c) => c / total);
}
