/**
 * LightGBM's text model (`Booster.save_model('model.txt')`) → ONNX, in double precision.
 * parse: the text into header, trees, parameters and pandas_categorical; describe: the neutral tree
 * ensemble (tree-ensemble.ts) and the objective's head; emit: describe.ts.
 *
 * Semantics, from LightGBM's include/LightGBM/tree.h (the text format is not documented otherwise,
 * microsoft/LightGBM#4888; src/io/tree.cpp Tree::Tree(const char*) reads it):
 * - decision_type bits: 1 categorical, 2 default-left, (>> 2) & 3 the missing type (0 None, 1 Zero, 2 NaN);
 * - NumericalDecision: with missing type None a NaN is read as 0.0 (so it goes where 0 goes); with Zero,
 *   NaN and every |x| ≤ kZeroThreshold take the default side; with NaN, NaN takes it; otherwise
 *   x <= threshold goes left. Thresholds are doubles and the input is FP64, so a value on a threshold
 *   takes LightGBM's branch;
 * - CategoricalDecision: NaN or a negative code goes right; else the code (static_cast<int>) goes left
 *   when its bit is set in cat_threshold[cat_boundaries[k] .. cat_boundaries[k+1]];
 * - GBDT::PredictRaw sums tree i into output i % num_tree_per_iteration; `average_output` (boosting=rf)
 *   divides by the number of iterations; linear trees: Tree::Predict (tree-ensemble.ts header);
 * - the objective's ConvertOutput (src/objective/*.hpp) is the link (links.ts).
 * Reference converter: onnxmltools convert/lightgbm (_parse.py, operator_converters/LightGbm.py).
 */
import { Fields } from '../fields.ts';
import type { FeatureRecord } from '../record.ts';
import type { Head, Link } from '../links.ts';
import { MAX_TREE_DEPTH, type DerivedColumn, type LinearLeaf, type Tree, type TreeNode } from '../tree-ensemble.ts';
import { emitConversion, type Conversion, type ModelDescription } from '../describe.ts';

const MAX_LEAVES = 1 << 20;
/** What LightGBM writes (src/boosting/gbdt_model_text.cpp SaveModelToString, src/io/tree.cpp Tree::ToString); any other key is refused. */
const HEADER_KEYS = ['version', 'num_class', 'num_tree_per_iteration', 'label_index', 'max_feature_idx', 'objective', 'average_output', 'feature_names', 'monotone_constraints', 'feature_infos', 'tree_sizes'];
const TREE_KEYS = ['Tree', 'num_leaves', 'num_cat', 'split_feature', 'split_gain', 'threshold', 'decision_type', 'left_child', 'right_child', 'leaf_value', 'leaf_weight', 'leaf_count', 'internal_value', 'internal_weight', 'internal_count', 'cat_boundaries', 'cat_threshold', 'is_linear', 'leaf_const', 'num_features', 'leaf_features', 'leaf_coeff', 'shrinkage'];

interface Objective {
  readonly head: (classes: number, args: Map<string, string>) => Head;
}
const sigmoidScale = (args: Map<string, string>) => (args.has('sigmoid') ? Number(args.get('sigmoid')) : 1);
const regression = (link: (args: Map<string, string>) => Link, task: 'regression' | 'ranking' = 'regression'): Objective => ({ head: (_c, args) => ({ task, link: link(args) }) });
// regression_l1, quantile and mape inherit RegressionL2loss::ConvertOutput, which squares back with `sqrt`.
const l2Like = regression((args) => (args.has('sqrt') ? { kind: 'sign-square' } : { kind: 'identity' }));

export const LGB_OBJECTIVES: Record<string, Objective> = {
  binary: { head: (_c, args) => ({ task: 'classification', classes: 2, binary: true, link: { kind: 'sigmoid', scale: sigmoidScale(args) } }) },
  multiclass: { head: (classes) => ({ task: 'classification', classes, link: { kind: 'softmax' } }) },
  multiclassova: { head: (classes, args) => ({ task: 'classification', classes, link: { kind: 'sigmoid', scale: sigmoidScale(args) } }) },
  regression: l2Like,
  regression_l1: l2Like,
  quantile: l2Like,
  mape: l2Like,
  huber: regression(() => ({ kind: 'identity' })),
  fair: regression(() => ({ kind: 'identity' })),
  poisson: regression(() => ({ kind: 'exp' })),
  gamma: regression(() => ({ kind: 'exp' })),
  tweedie: regression(() => ({ kind: 'exp' })),
  cross_entropy: regression(() => ({ kind: 'sigmoid' })),
  cross_entropy_lambda: regression(() => ({ kind: 'log1p-exp' })),
  lambdarank: regression(() => ({ kind: 'identity' }), 'ranking'),
  rank_xendcg: regression(() => ({ kind: 'identity' }), 'ranking'),
};

interface ParsedModel {
  header: Map<string, string>;
  trees: { line: number; fields: Map<string, string> }[];
  parameters: Map<string, string>;
  pandasCategorical: unknown;
}

function parseText(F: Fields, bytes: Uint8Array): ParsedModel {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    F.fail('', 'not UTF-8 text, so not a LightGBM text model; save it with Booster.save_model("model.txt")');
  }
  const lines = text.split(/\r?\n/);
  if (lines[0]?.trim() !== 'tree') F.fail('line 1', `expected "tree", the first line of a LightGBM text model, found "${(lines[0] ?? '').slice(0, 40)}"; save the model with Booster.save_model("model.txt")`);
  const header = new Map<string, string>();
  const trees: ParsedModel['trees'] = [];
  const parameters = new Map<string, string>();
  let pandasCategorical: unknown = null;
  let i = 1;
  let current: Map<string, string> | undefined;
  let endOfTrees = false;
  for (; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === 'end of trees') {
      endOfTrees = true;
      break;
    }
    if (line === '') {
      current = undefined;
      continue;
    }
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq);
    const value = eq < 0 ? '' : line.slice(eq + 1);
    if (key === 'Tree') {
      current = new Map([['Tree', value]]);
      trees.push({ line: i + 1, fields: current });
    } else (current ?? header).set(key, value);
  }
  if (!endOfTrees) F.fail('', 'no "end of trees" line: the file is truncated; save it again with Booster.save_model("model.txt")');
  for (i++; i < lines.length; i++) {
    const line = lines[i].trim();
    const param = /^\[([^:\]]+): ?(.*)\]$/.exec(line);
    if (param !== null) parameters.set(param[1], param[2]);
    else if (line.startsWith('pandas_categorical:')) {
      try {
        pandasCategorical = JSON.parse(line.slice('pandas_categorical:'.length));
      } catch {
        F.fail(`line ${i + 1}`, 'pandas_categorical is not valid JSON');
      }
    }
  }
  return { header, trees, parameters, pandasCategorical };
}

function readTree(F: Fields, fields: Map<string, string>, path: string, ctx: { features: number; zeroColumn: (f: number) => number; truncColumn: (f: number) => number }): TreeNode {
  F.known(Object.fromEntries(fields), path, TREE_KEYS, 'LightGBM');
  const get = (key: string) => fields.get(key);
  const nums = (key: string, n: number, required = true): number[] => {
    const v = get(key);
    if (v === undefined) return required ? F.fail(`${path}`, `no ${key}`) : [];
    const parts = v.trim() === '' ? [] : v.trim().split(/\s+/);
    if (parts.length !== n) F.fail(`${path}.${key}`, `expected ${n} values, found ${parts.length}`);
    return parts.map((p, k) => {
      const x = Number(p);
      // LightGBM writes inf / -inf / nan as C's printf does.
      const y = Number.isNaN(x) ? ({ inf: Infinity, '-inf': -Infinity, nan: NaN } as Record<string, number>)[p.toLowerCase()] : x;
      if (y === undefined) F.fail(`${path}.${key}[${k}]`, `not a number: "${p.slice(0, 30)}"`);
      return y;
    });
  };
  const ints = (key: string, n: number, min: number, max: number, required = true) => nums(key, n, required).map((x, k) => (Number.isInteger(x) && x >= min && x <= max ? x : F.fail(`${path}.${key}[${k}]`, `expected an integer from ${min} to ${max}, found ${x}`)));

  const leaves = F.int(get('num_leaves'), `${path}.num_leaves`, 1, MAX_LEAVES);
  const numCat = F.int(get('num_cat') ?? '0', `${path}.num_cat`, 0, MAX_LEAVES);
  const leafValue = nums('leaf_value', leaves);
  const isLinear = (get('is_linear') ?? '0') === '1';
  let linear: LinearLeaf[] | undefined;
  if (isLinear) {
    const constants = nums('leaf_const', leaves);
    const counts = ints('num_features', leaves, 0, ctx.features);
    const total = counts.reduce((a, b) => a + b, 0);
    const feats = ints('leaf_features', total, 0, ctx.features - 1, total > 0);
    const coeffs = nums('leaf_coeff', total, total > 0);
    let at = 0;
    linear = counts.map((c, k) => {
      const leaf = { constant: constants[k], features: feats.slice(at, at + c), coefficients: coeffs.slice(at, at + c) };
      at += c;
      return leaf;
    });
  }
  const leaf = (k: number): TreeNode => ({ value: leafValue[k], ...(linear !== undefined ? { linear: linear[k] } : {}) });
  if (leaves === 1) return leaf(0);

  const n = leaves - 1;
  const feature = ints('split_feature', n, 0, ctx.features - 1);
  const threshold = nums('threshold', n);
  const decision = get('decision_type') === undefined ? new Array<number>(n).fill(0) : ints('decision_type', n, 0, 127);
  const left = ints('left_child', n, -leaves, n - 1);
  const right = ints('right_child', n, -leaves, n - 1);
  const boundaries = numCat > 0 ? ints('cat_boundaries', numCat + 1, 0, 1 << 30) : [];
  const words = numCat > 0 ? ints('cat_threshold', boundaries[numCat] ?? 0, 0, 2 ** 32 - 1) : [];

  const seenNode = new Uint8Array(n);
  const seenLeaf = new Uint8Array(leaves);
  const done = new Map<number, TreeNode>();
  const child = (c: number): TreeNode => {
    if (c < 0) {
      if (seenLeaf[~c] !== 0) F.fail(path, `leaf ${~c} is reached twice`);
      seenLeaf[~c] = 1;
      return leaf(~c);
    }
    return done.get(c)!;
  };
  // Iterative post-order (a deep or malicious tree cannot exhaust the call stack); each node once.
  const stack = [0];
  seenNode[0] = 1;
  const expanded = new Uint8Array(n);
  const depth = new Uint32Array(n);
  while (stack.length > 0) {
    const i = stack[stack.length - 1];
    if (expanded[i] === 0) {
      expanded[i] = 1;
      for (const c of [left[i], right[i]]) {
        if (c < 0) continue;
        if (seenNode[c] !== 0) F.fail(path, `node ${c} is reached twice (a cycle or a shared node)`);
        seenNode[c] = 1;
        depth[c] = depth[i] + 1;
        if (depth[c] >= MAX_TREE_DEPTH) F.fail(path, `deeper than ${MAX_TREE_DEPTH} levels, which onnxruntime cannot load safely; retrain with max_depth`);
        stack.push(c);
      }
      continue;
    }
    stack.pop();
    const whenLeft = child(left[i]);
    const whenRight = child(right[i]);
    const dt = decision[i];
    let node: TreeNode;
    if ((dt & 1) !== 0) {
      const k = threshold[i];
      if (!Number.isInteger(k) || k < 0 || k >= numCat) F.fail(`${path}.threshold[${i}]`, `categorical split ${k} is not one of the ${numCat} in cat_boundaries`);
      if (boundaries[k + 1] < boundaries[k]) F.fail(`${path}.cat_boundaries`, 'not increasing');
      const members: number[] = [];
      for (let w = boundaries[k]; w < boundaries[k + 1]; w++) for (let b = 0; b < 32; b++) if ((words[w] >>> b) & 1) members.push((w - boundaries[k]) * 32 + b);
      node = { feature: ctx.truncColumn(feature[i]), mode: 'MEMBER', members, missingGoesTrue: false, whenTrue: whenLeft, whenFalse: whenRight };
    } else {
      const missing = (dt >> 2) & 3;
      const defaultLeft = (dt & 2) !== 0;
      const t = threshold[i];
      if (missing === 0) node = { feature: feature[i], mode: 'LEQ', threshold: t, missingGoesTrue: 0 <= t, whenTrue: whenLeft, whenFalse: whenRight };
      else if (missing === 1) node = { feature: ctx.zeroColumn(feature[i]), mode: 'LEQ', threshold: t, missingGoesTrue: defaultLeft, whenTrue: whenLeft, whenFalse: whenRight };
      else if (missing === 2) node = { feature: feature[i], mode: 'LEQ', threshold: t, missingGoesTrue: defaultLeft, whenTrue: whenLeft, whenFalse: whenRight };
      else F.fail(`${path}.decision_type[${i}]`, `unknown missing type ${missing}`);
    }
    done.set(i, node);
    if (left[i] >= 0) done.delete(left[i]);
    if (right[i] >= 0) done.delete(right[i]);
  }
  return done.get(0)!;
}

export function describeLightgbm(file: string, bytes: Uint8Array): ModelDescription {
  const F: Fields = new Fields(file);
  const model = parseText(F, bytes);
  const h = model.header;
  F.known(Object.fromEntries(h), 'header', HEADER_KEYS, 'LightGBM');
  const features = F.int(h.get('max_feature_idx'), 'max_feature_idx', 0, 1 << 24) + 1;
  const classes = F.int(h.get('num_class') ?? '1', 'num_class', 1, 1 << 16);
  const perIteration = F.int(h.get('num_tree_per_iteration') ?? '1', 'num_tree_per_iteration', 1, 1 << 16);
  const objectiveText = h.get('objective');
  if (objectiveText === undefined) F.fail('', 'no objective line (a model trained with a custom objective function cannot be converted: its link is unknown)');
  const [objectiveName, ...argTokens] = objectiveText.trim().split(/\s+/);
  const args = new Map(argTokens.map((t) => { const c = t.indexOf(':'); return c < 0 ? [t, ''] as const : [t.slice(0, c), t.slice(c + 1)] as const; }));
  const objective = LGB_OBJECTIVES[objectiveName];
  if (objective === undefined) F.fail('objective', `unknown objective "${objectiveName}"; converted: ${Object.keys(LGB_OBJECTIVES).join(', ')}`);
  const head = objective.head(classes, args);
  const targets = head.task === 'classification' && head.binary === true ? 1 : perIteration;
  if (head.task === 'classification' && head.binary !== true && classes !== perIteration) F.fail('num_tree_per_iteration', `${perIteration} trees per iteration for ${classes} classes`);
  if (model.trees.length === 0) F.fail('', 'the model holds no trees');
  if (model.trees.length % perIteration !== 0) F.fail('', `${model.trees.length} trees is not a multiple of num_tree_per_iteration (${perIteration}): the file is truncated`);

  const names = (h.get('feature_names') ?? '').trim().split(/\s+/).filter(Boolean);
  if (names.length !== features) F.fail('feature_names', `${names.length} names for ${features} features`);
  const infos = (h.get('feature_infos') ?? '').trim().split(/\s+/).filter(Boolean);
  const categoricalParam = model.parameters.get('categorical_feature');
  const categoricalIndices = new Set<number>(
    categoricalParam !== undefined && categoricalParam.trim() !== ''
      ? categoricalParam.split(',').map((s, k) => F.int(s.trim(), `parameters.categorical_feature[${k}]`, 0, features - 1))
      : infos.flatMap((info, k) => (info !== 'none' && !info.startsWith('[') ? [k] : [])),
  );

  const derived: DerivedColumn[] = [];
  const derivedIndex = new Map<string, number>();
  const column = (transform: DerivedColumn['transform']) => (f: number) => {
    const key = `${transform}:${f}`;
    let index = derivedIndex.get(key);
    if (index === undefined) {
      index = features + derived.length;
      derived.push({ source: f, transform });
      derivedIndex.set(key, index);
    }
    return index;
  };
  const ctx = { features, zeroColumn: column('zero-as-missing'), truncColumn: column('truncate') };
  const trees: Tree[] = model.trees.map(({ line, fields }, k) => ({ root: readTree(F, fields, `Tree=${fields.get('Tree')} (line ${line})`, ctx), target: targets === 1 ? 0 : k % perIteration }));

  const pandas = model.pandasCategorical;
  const pandasLists = Array.isArray(pandas) ? pandas : [];
  const sortedCategorical = [...categoricalIndices].sort((a, b) => a - b);
  if (pandasLists.length !== 0 && pandasLists.length !== sortedCategorical.length) F.fail('pandas_categorical', `${pandasLists.length} lists for ${sortedCategorical.length} categorical features`);
  const featureRecords = names.map((name, k): FeatureRecord => {
    if (!categoricalIndices.has(k)) return { name, type: 'numeric' };
    const position = sortedCategorical.indexOf(k);
    const list = pandasLists[position];
    let categories: string[];
    if (Array.isArray(list)) categories = list.map(String);
    else {
      // No names: the codes themselves, 0 … the largest code the model knows.
      const codes = (infos[k] ?? '').split(':').map(Number).filter((c) => Number.isInteger(c) && c >= 0);
      categories = Array.from({ length: codes.length === 0 ? 0 : codes.reduce((m, c) => Math.max(m, c), 0) + 1 }, (_, c) => String(c));
    }
    // An unseen category: pandas codes it -1 and LightGBM's Python package feeds NaN, which goes right.
    return { name, type: 'categorical', categories, unseen: null };
  });

  const averaged = h.has('average_output');
  return {
    format: 'lightgbm',
    producer: `LightGBM text model ${h.get('version') ?? '(no version line)'}`,
    objective: objectiveName,
    booster: model.parameters.get('boosting') ?? (averaged ? 'rf' : 'gbdt'),
    features: featureRecords,
    head,
    trees: trees.length,
    ensemble: { elementType: 'FP64', features, derived, targets, trees, ...(averaged ? { divisor: trees.length / perIteration } : {}) },
  };
}

export function convertLightgbm(file: string, bytes: Uint8Array): Conversion {
  return emitConversion(file, bytes, describeLightgbm(file, bytes));
}
