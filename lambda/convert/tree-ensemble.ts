/**
 * The neutral description of a tree ensemble, and its emission as ONNX (ai.onnx.ml TreeEnsemble,
 * opset 5). Every source format (XGBoost, LightGBM, PMML TreeModel / MiningModel segments) parses its
 * file into this description, the "describe" step of onnxmltools' parse → describe → emit layout
 * (onnxmltools convert/xgboost/_parse.py, operator_converters/XGBoost.py), and this file alone emits it.
 *
 * How to reuse it (e.g. for PMML):
 *   const g = new GraphBuilder();
 *   const margin = emitTreeEnsemble(g, 'features', { elementType: 'FP64', features: n, targets: 1, trees: [...] });
 *   // margin is [N, targets]: the sum of every tree's leaf for its target, then + base, then ÷ divisor.
 *   // Apply the link (lambda/convert/links.ts) and name the outputs (g.output), then g.model(...).
 *
 * Semantics a description states exactly (no defaults are guessed by the emitter):
 * - a split compares one input column: LEQ (x <= t goes to whenTrue), LT (x < t), or MEMBER (x is one of
 *   `members`); NaN goes to whenTrue when `missingGoesTrue`, else to whenFalse. Thresholds and leaf values
 *   are written in the ensemble's element type (FP32: float32, as XGBoost; FP64: double, as LightGBM and PMML).
 * - derived columns (appended after the input's columns, referenced by index ≥ `features`) cover what a
 *   split tests that is not the raw value: LightGBM's zero-as-missing (NaN and |x| ≤ 1e-35f become NaN)
 *   and integer truncation of a category code (C's static_cast<int>).
 * - a leaf may carry a linear model (LightGBM linear trees): const + Σ coefficient·x over its features in
 *   order, or the plain leaf value when any of those features is NaN (LightGBM include/LightGBM/tree.h,
 *   Tree::Predict). It is emitted exactly: the ensemble yields each tree's leaf index, Gather fetches the
 *   leaf's constants, GatherElements its features, and Mul/Add accumulate in LightGBM's order.
 */
import { GraphBuilder, type ElementType } from './onnx/graph.ts';

export interface LinearLeaf {
  readonly constant: number;
  /** Raw input columns, in the order the products are summed. */
  readonly features: readonly number[];
  readonly coefficients: readonly number[];
}
export interface Leaf {
  readonly value: number;
  readonly linear?: LinearLeaf;
}
export interface Split {
  readonly feature: number;
  readonly mode: 'LEQ' | 'LT' | 'MEMBER';
  /** LEQ / LT only. */
  readonly threshold?: number;
  /** MEMBER only: the values that go to whenTrue. */
  readonly members?: readonly number[];
  readonly missingGoesTrue: boolean;
  readonly whenTrue: TreeNode;
  readonly whenFalse: TreeNode;
}
export type TreeNode = Leaf | Split;
export const isLeaf = (node: TreeNode): node is Leaf => 'value' in node;

export interface Tree {
  readonly root: TreeNode;
  /** Which output column the tree adds to. */
  readonly target: number;
}

export interface DerivedColumn {
  /** The input column it is computed from. */
  readonly source: number;
  readonly transform: 'zero-as-missing' | 'truncate';
}

export interface TreeEnsemble {
  readonly elementType: ElementType;
  /** Width of the input matrix. */
  readonly features: number;
  readonly derived?: readonly DerivedColumn[];
  readonly targets: number;
  readonly trees: readonly Tree[];
  /** Added to each target after the trees' sum (XGBoost base_score in margin space); none when absent. */
  readonly base?: readonly number[];
  /**
   * Start each target's sum from its base instead of adding it at the end: the base is folded into the
   * leaves of the target's first tree, so the running sum is ((base + t0) + t1) + …, XGBoost's order of
   * float32 additions (src/predictor/cpu_predictor.cc, the margin starts at base_score).
   */
  readonly baseFirst?: boolean;
  /**
   * Sum the trees one after another, in order, in the element type (XGBoost's float32 running sum):
   * the ensemble yields each tree's leaf, then CumSum adds them left to right. onnxruntime's own
   * aggregation adds in another order (and in parallel over trees), which on 500 trees drifts by ~10
   * float32 ulps, enough to break 1e-5 relative on a small probability.
   */
  readonly sequentialSum?: boolean;
  /** The sum (plus base) is divided by it: averaging forests (LightGBM boosting=rf). */
  readonly divisor?: number;
}

/**
 * The deepest tree converted. onnxruntime builds its tree ensemble recursively: a chain of about 20,000
 * levels crashed the process when the session was created (8,000 in a worker thread), which no
 * error handling can catch. Real models stay far below (max_depth, or num_leaves bounding the depth);
 * deeper ones are refused, naming the tree.
 */
export const MAX_TREE_DEPTH = 2048;

/** LightGBM's kZeroThreshold, `const double kZeroThreshold = 1e-35f;` (include/LightGBM/meta.h): a float literal. */
export const LIGHTGBM_ZERO_THRESHOLD = Math.fround(1e-35);

const MODES = { LEQ: 0, LT: 1, MEMBER: 6 } as const;
const AGGREGATE_SUM = 1;

interface Flattened {
  featureIds: number[]; modes: number[]; splits: number[]; trueIds: number[]; trueLeafs: number[]; falseIds: number[]; falseLeafs: number[];
  missingTrue: number[]; members: number[]; roots: number[]; leafTargets: number[]; leafWeights: number[];
}

/**
 * The TreeEnsemble attributes for the trees. `leafWeight` gives each leaf's (target, weight); for
 * linear leaves the emitter asks for the leaf's global index instead of its value.
 */
function flatten(trees: readonly Tree[], leafOutput: (leaf: Leaf, tree: number, leafIndex: number) => { target: number; weight: number }): Flattened {
  const f: Flattened = { featureIds: [], modes: [], splits: [], trueIds: [], trueLeafs: [], falseIds: [], falseLeafs: [], missingTrue: [], members: [], roots: [], leafTargets: [], leafWeights: [] };
  const addLeaf = (leaf: Leaf, tree: number): number => {
    const index = f.leafTargets.length;
    const { target, weight } = leafOutput(leaf, tree, index);
    f.leafTargets.push(target);
    f.leafWeights.push(weight);
    return index;
  };
  trees.forEach((tree, t) => {
    const rootIndex = f.featureIds.length;
    f.roots.push(rootIndex);
    if (isLeaf(tree.root)) {
      // TreeEnsemble has no leaf-only tree: a split whose two branches reach the same leaf.
      const leaf = addLeaf(tree.root, t);
      f.featureIds.push(0); f.modes.push(MODES.LEQ); f.splits.push(0); f.missingTrue.push(0);
      f.trueIds.push(leaf); f.trueLeafs.push(1); f.falseIds.push(leaf); f.falseLeafs.push(1);
      return;
    }
    // Depth-first with an explicit stack (a deep tree must not exhaust the call stack).
    const stack: { node: Split; index: number }[] = [];
    const addSplit = (node: Split): number => {
      const index = f.featureIds.length;
      f.featureIds.push(node.feature);
      f.modes.push(MODES[node.mode]);
      f.splits.push(node.mode === 'MEMBER' ? 0 : node.threshold!);
      f.missingTrue.push(node.missingGoesTrue ? 1 : 0);
      f.trueIds.push(-1); f.trueLeafs.push(0); f.falseIds.push(-1); f.falseLeafs.push(0);
      if (node.mode === 'MEMBER') {
        // A loop, not push(...members): a set can be longer than a call's argument limit.
        for (const m of node.members!) f.members.push(m);
        f.members.push(Number.NaN);
      }
      stack.push({ node, index });
      return index;
    };
    addSplit(tree.root as Split);
    while (stack.length > 0) {
      const { node, index } = stack.pop()!;
      for (const [child, ids, leafs] of [[node.whenTrue, f.trueIds, f.trueLeafs], [node.whenFalse, f.falseIds, f.falseLeafs]] as const) {
        if (isLeaf(child)) {
          ids[index] = addLeaf(child, t);
          leafs[index] = 1;
        } else {
          ids[index] = addSplit(child);
        }
      }
    }
  });
  return f;
}

function treeEnsembleNode(g: GraphBuilder, input: string, type: ElementType, targets: number, f: Flattened): string {
  const tensor = (values: number[], dataType: ElementType | 'UINT8') => {
    const name = g.fresh('attr');
    if (dataType === 'UINT8') return { name, dataType: 2, dims: [values.length], rawData: Uint8Array.from(values) };
    const typed = dataType === 'FP32' ? Float32Array.from(values) : Float64Array.from(values);
    return { name, dataType: dataType === 'FP32' ? 1 : 11, dims: [values.length], rawData: new Uint8Array(typed.buffer) };
  };
  return g.op('TreeEnsemble', [input], {
    aggregate_function: { int: AGGREGATE_SUM },
    n_targets: { int: targets },
    tree_roots: { ints: f.roots },
    nodes_featureids: { ints: f.featureIds },
    nodes_modes: { tensor: tensor(f.modes, 'UINT8') },
    nodes_splits: { tensor: tensor(f.splits, type) },
    nodes_truenodeids: { ints: f.trueIds },
    nodes_trueleafs: { ints: f.trueLeafs },
    nodes_falsenodeids: { ints: f.falseIds },
    nodes_falseleafs: { ints: f.falseLeafs },
    nodes_missing_value_tracks_true: { ints: f.missingTrue },
    ...(f.members.length > 0 ? { membership_values: { tensor: tensor(f.members, type) } } : {}),
    leaf_targetids: { ints: f.leafTargets },
    leaf_weights: { tensor: tensor(f.leafWeights, type) },
    post_transform: { int: 0 },
  }, { domain: 'ai.onnx.ml' });
}

/** The input with the derived columns appended (or the input itself when there are none). */
function withDerivedColumns(g: GraphBuilder, input: string, e: TreeEnsemble): string {
  if (e.derived === undefined || e.derived.length === 0) return input;
  const t = e.elementType;
  const columns = e.derived.map(({ source, transform }) => {
    const x = g.op('Slice', [input, g.constant('INT64', [1], [source]), g.constant('INT64', [1], [source + 1]), g.constant('INT64', [1], [1])]);
    const nan = g.op('IsNaN', [x]);
    if (transform === 'truncate') {
      // static_cast<int>(x): toward zero, as Cast to an integer does; NaN kept (Cast of NaN is undefined).
      const truncated = g.op('Cast', [g.op('Cast', [x], { to: { int: 7 } })], { to: { int: t === 'FP32' ? 1 : 11 } });
      return g.op('Where', [nan, x, truncated]);
    }
    const z = LIGHTGBM_ZERO_THRESHOLD;
    const zero = g.op('And', [g.op('GreaterOrEqual', [x, g.scalar(t, -z)]), g.op('LessOrEqual', [x, g.scalar(t, z)])]);
    return g.op('Where', [g.op('Or', [nan, zero]), g.scalar(t, Number.NaN), x]);
  });
  return g.op('Concat', [input, ...columns], { axis: { int: 1 } });
}

/** Per-tree outputs [N, trees] → per-target sums [N, targets] (a 0/1 matrix: exact). */
function sumByTarget(g: GraphBuilder, perTree: string, e: TreeEnsemble): string {
  const matrix = new Array<number>(e.trees.length * e.targets).fill(0);
  e.trees.forEach((tree, t) => { matrix[t * e.targets + tree.target] = 1; });
  return g.op('MatMul', [perTree, g.constant(e.elementType, [e.trees.length, e.targets], matrix, 'tree_to_target')]);
}

/** Each tree's leaf [N, trees], then per target a running sum over its trees in order (CumSum), the last column. */
function sumInOrder(g: GraphBuilder, treeInput: string, e: TreeEnsemble, weight: (leaf: Leaf, tree: number) => number): string {
  const perTree = treeEnsembleNode(g, treeInput, e.elementType, e.trees.length, flatten(e.trees, (leaf, tree) => ({ target: tree, weight: weight(leaf, tree) })));
  const axis = g.scalar('INT64', 1, 'axis');
  const columns = Array.from({ length: e.targets }, (_, k) => {
    const trees = e.trees.flatMap((tree, t) => (tree.target === k ? [t] : []));
    if (trees.length === 0) return g.op('Mul', [g.op('Slice', [perTree, g.constant('INT64', [1], [0]), g.constant('INT64', [1], [1]), g.constant('INT64', [1], [1])]), g.scalar(e.elementType, 0)]);
    const own = e.targets === 1 ? perTree : g.op('Gather', [perTree, g.constant('INT64', [trees.length], trees, 'trees_of_target')], { axis: { int: 1 } });
    const running = g.op('CumSum', [own, axis]);
    return g.op('Slice', [running, g.constant('INT64', [1], [trees.length - 1]), g.constant('INT64', [1], [trees.length]), g.constant('INT64', [1], [1])]);
  });
  return columns.length === 1 ? columns[0] : g.op('Concat', columns, { axis: { int: 1 } });
}

/** LightGBM linear leaves (see the file header): each tree's output, [N, trees]. */
function emitLinearTrees(g: GraphBuilder, input: string, treeInput: string, e: TreeEnsemble): string {
  const t = e.elementType;
  const leaves: Leaf[] = [];
  const flat = flatten(e.trees, (leaf, tree, index) => {
    leaves.push(leaf);
    return { target: tree, weight: index };
  });
  const ids = g.op('Cast', [treeEnsembleNode(g, treeInput, t, e.trees.length, flat)], { to: { int: 7 } });
  const gather = (values: number[], type: ElementType | 'INT64' = t) => g.op('Gather', [g.constant(type, [values.length], values, 'leaf_table'), ids], { axis: { int: 0 } });
  const width = leaves.reduce((w, l) => Math.max(w, l.linear?.features.length ?? 0), 0);
  // The input with one zero column at index `features`, where unused coefficient slots point.
  const padded = g.op('Pad', [input, g.constant('INT64', [4], [0, 0, 0, 1]), g.scalar(t, 0)]);
  let sum = gather(leaves.map((l) => l.linear?.constant ?? l.value));
  let nan: string | undefined;
  for (let k = 0; k < width; k++) {
    const column = gather(leaves.map((l) => l.linear?.features[k] ?? e.features), 'INT64');
    const x = g.op('GatherElements', [padded, column], { axis: { int: 1 } });
    sum = g.op('Add', [sum, g.op('Mul', [gather(leaves.map((l) => l.linear?.coefficients[k] ?? 0)), x])]);
    const isNan = g.op('IsNaN', [x]);
    nan = nan === undefined ? isNan : g.op('Or', [nan, isNan]);
  }
  return nan === undefined ? sum : g.op('Where', [nan, gather(leaves.map((l) => l.value)), sum]);
}

/** Emits the ensemble; returns the name of its [N, targets] output (the margin, before any link). */
export function emitTreeEnsemble(g: GraphBuilder, input: string, ensemble: TreeEnsemble): string {
  // No trees (a model saved after 0 rounds predicts its base): one leaf of 0, which adds nothing.
  const some = ensemble.trees.length > 0 ? ensemble : { ...ensemble, trees: [{ root: { value: 0 }, target: 0 }] };
  const folded = some.baseFirst === true && some.base !== undefined ? foldBase(some, some.base) : undefined;
  const e = folded === undefined ? some : { ...some, base: folded.rest };
  const round = e.elementType === 'FP32' ? Math.fround : (x: number) => x;
  // A leaf's weight: its value, plus the base where the base starts its target's sum.
  const weight = (leaf: Leaf, tree: number) => (folded === undefined || folded.offsets[tree] === 0 ? leaf.value : round(folded.offsets[tree] + leaf.value));
  const treeInput = withDerivedColumns(g, input, e);
  const linear = e.trees.some((tree) => hasLinearLeaf(tree.root));
  let margin = linear
    ? sumByTarget(g, emitLinearTrees(g, input, treeInput, e), e)
    : e.sequentialSum === true && e.trees.length > 0
      ? sumInOrder(g, treeInput, e, weight)
      : treeEnsembleNode(g, treeInput, e.elementType, e.targets, flatten(e.trees, (leaf, tree) => ({ target: e.trees[tree].target, weight: weight(leaf, tree) })));
  if (e.base !== undefined && e.base.some((b) => b !== 0)) margin = g.op('Add', [margin, g.constant(e.elementType, [e.targets], e.base, 'base_score')]);
  if (e.divisor !== undefined && e.divisor !== 1) margin = g.op('Div', [margin, g.scalar(e.elementType, e.divisor, 'average_over')]);
  return margin;
}

/**
 * The base folded into each target's first tree: per tree, what its leaves start from (in the element
 * type's precision), and the base left to add after the sum (targets without a tree keep theirs).
 */
function foldBase(e: TreeEnsemble, base: readonly number[]): { offsets: number[]; rest: number[] } {
  const round = e.elementType === 'FP32' ? Math.fround : (x: number) => x;
  const rest = [...base];
  const offsets = e.trees.map((tree) => {
    const b = rest[tree.target];
    if (b === 0 || hasLinearLeaf(tree.root)) return 0;
    rest[tree.target] = 0;
    return round(b);
  });
  return { offsets, rest };
}

function hasLinearLeaf(root: TreeNode): boolean {
  const stack = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (isLeaf(node)) {
      if (node.linear !== undefined) return true;
    } else stack.push(node.whenTrue, node.whenFalse);
  }
  return false;
}
