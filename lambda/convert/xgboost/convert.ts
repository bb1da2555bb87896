/**
 * XGBoost's JSON and UBJSON models (`Booster.save_model`, XGBoost 1.0 to 3.x) → ONNX.
 * parse: the file's bytes into the document (JSON.parse, or ubjson.ts); describe: the document into the
 * neutral tree ensemble (tree-ensemble.ts) with its objective's head (objectives.ts); emit: describe.ts.
 *
 * Semantics, from xgboost's sources:
 * - a numeric split sends x < split_condition left (src/predictor/predict_fn.h GetDecision), compared in
 *   float32: the input is FP32 and thresholds and leaves stay float32;
 * - NaN follows default_left (predict_fn.h GetNextNode);
 * - a categorical split (split_type 1) sends the categories in its set RIGHT and everything else left,
 *   including negative or out-of-range codes (src/common/categorical.h Decision: "Go to left if it's NOT
 *   the matching category"); the code is truncated to an integer first (AsCat, a static_cast);
 * - the margin is base_score mapped to margin space (ProbToMargin) plus every tree's leaf for its output
 *   (tree_info), dart trees scaled by weight_drop; gblinear is bias + Σ weight·x over present features.
 * Reference converter: onnxmltools convert/xgboost (_parse.py, operator_converters/XGBoost.py).
 */
import { ConversionError } from '../errors.ts';
import { Fields } from '../fields.ts';
import type { FeatureRecord, FeatureType } from '../record.ts';
import { MAX_TREE_DEPTH, type DerivedColumn, type Tree, type TreeNode } from '../tree-ensemble.ts';
import { emitConversion, type Conversion, type ModelDescription } from '../describe.ts';
import type { GraphBuilder } from '../onnx/graph.ts';
import { decodeUbjson, UbjsonError } from './ubjson.ts';
import { REFUSED_OBJECTIVES, XGB_OBJECTIVES } from './objectives.ts';

const f32 = Math.fround;

export function parseXgboost(file: string, bytes: Uint8Array): unknown {
  if (file.endsWith('.ubj')) {
    try {
      return decodeUbjson(bytes);
    } catch (error) {
      if (error instanceof UbjsonError) throw new ConversionError(file, `not a valid XGBoost UBJSON model (${error.message}); save it again with Booster.save_model("model.ubj")`);
      throw error;
    }
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ConversionError(file, 'not UTF-8 text, so not an XGBoost JSON model (a binary UBJSON model must be named model.ubj)');
  }
  try {
    return JSON.parse(withNonFiniteAsStrings(text));
  } catch (error) {
    throw new ConversionError(file, `not valid JSON (${(error as Error).message}); the file may be truncated: save it again with Booster.save_model("model.json")`);
  }
}

/**
 * XGBoost's JSON writer prints non-finite floats bare (NaN, Infinity, -Infinity: 1.7 writes NaN as the
 * split condition of a categorical split), which JSON.parse refuses; outside strings they become the
 * strings "NaN" / "Infinity" / "-Infinity", which the field readers turn back into numbers.
 */
function withNonFiniteAsStrings(text: string): string {
  if (!/NaN|Infinity/.test(text)) return text;
  let out = '';
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === 'N' && text.startsWith('NaN', i)) {
      out += `${text.slice(from, i)}"NaN"`;
      from = i + 3;
      i += 2;
    } else if ((c === 'I' || c === '-') && text.startsWith(c === 'I' ? 'Infinity' : '-Infinity', i)) {
      const token = c === 'I' ? 'Infinity' : '-Infinity';
      out += `${text.slice(from, i)}"${token}"`;
      from = i + token.length;
      i += token.length - 1;
    }
  }
  return out + text.slice(from);
}

// XGBoost's feature_types (python-package xgboost/data.py): q quantitative, i indicator (0/1), int, float, c categorical.
/** The fields XGBoost 1.x to 3.x write (doc/model.schema and 3.x's additions); any other is refused by name. */
const KNOWN = {
  root: ['learner', 'version'],
  learner: ['attributes', 'feature_names', 'feature_types', 'gradient_booster', 'learner_model_param', 'objective'],
  param: ['base_score', 'boost_from_average', 'num_class', 'num_feature', 'num_target'],
  gbtree: ['model', 'name'],
  dart: ['gbtree', 'name', 'weight_drop'],
  gblinear: ['model', 'name'],
  treeModel: ['cats', 'gbtree_model_param', 'iteration_indptr', 'tree_info', 'trees'],
  linearModel: ['boosted_rounds', 'weights'],
  tree: ['base_weights', 'categories', 'categories_nodes', 'categories_segments', 'categories_sizes', 'default_left', 'id', 'leaf_weights', 'left_children', 'loss_changes', 'parents', 'right_children', 'split_conditions', 'split_indices', 'split_type', 'sum_hessian', 'tree_param'],
  treeParam: ['num_deleted', 'num_feature', 'num_nodes', 'size_leaf_vector'],
} as const;

const FEATURE_TYPES: Record<string, FeatureType> = { float: 'numeric', q: 'numeric', int: 'integer', i: 'boolean', c: 'categorical' };

/** base_score as saved: "5E-1" (1.x, 2.x) or "[3.8E-1,…]" (3.x, one per output). */
function baseScores(F: Fields, v: unknown, outputs: number): number[] {
  const text = F.string(v ?? '0.5', 'learner.learner_model_param.base_score').trim();
  const parts = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1).split(',') : [text];
  const values = parts.map((p, i) => F.number(p.trim(), `learner.learner_model_param.base_score[${i}]`));
  if (values.length === 1) return new Array<number>(outputs).fill(f32(values[0]));
  if (values.length !== outputs) F.fail('learner.learner_model_param.base_score', `${values.length} values for ${outputs} outputs`);
  return values.map(f32);
}

/** Category names of the native categorical features (3.x `cats`), by feature index. */
function categoryNames(F: Fields, cats: unknown, features: number, at: string): Map<number, string[]> {
  const names = new Map<number, string[]>();
  if (cats === undefined) return names;
  const c = F.object(cats, at);
  const enc = F.array(c.enc, `${at}.enc`);
  if (enc.length !== features && enc.length !== 0) F.fail(`${at}.enc`, `${enc.length} columns for ${features} features`);
  const utf8 = new TextDecoder('utf-8', { fatal: false });
  enc.forEach((column, i) => {
    const col = F.object(column, `${at}.enc[${i}]`);
    const values = F.numbers(col.values ?? [], `${at}.enc[${i}].values`);
    const offsets = F.ints(col.offsets ?? [], `${at}.enc[${i}].offsets`, undefined, 0, values.length);
    if (offsets.length > 0) {
      // Strings: UTF-8 bytes in `values`, the i-th between offsets[i] and offsets[i+1].
      const bytes = Uint8Array.from(values);
      const list: string[] = [];
      for (let k = 1; k < offsets.length; k++) {
        if (offsets[k] < offsets[k - 1]) F.fail(`${at}.enc[${i}].offsets`, 'not increasing');
        list.push(utf8.decode(bytes.subarray(offsets[k - 1], offsets[k])));
      }
      names.set(i, list);
    } else if (values.length > 0) {
      names.set(i, values.map(String));
    }
  });
  return names;
}

interface TreeContext {
  readonly F: Fields;
  readonly features: number;
  readonly categorical: (feature: number) => number;
  readonly maxCategory: Map<number, number>;
  readonly outputs: number;
}

/** One tree from its arrays, checked: children in range, each node reached once (no cycles). */
function readTree(ctx: TreeContext, v: unknown, path: string, weight: number | undefined, target: number): Tree[] {
  const F: Fields = ctx.F;
  const t = F.object(v, path);
  F.known(t, path, KNOWN.tree, 'XGBoost');
  const param = F.object(t.tree_param, `${path}.tree_param`);
  F.known(param, `${path}.tree_param`, KNOWN.treeParam, 'XGBoost');
  const n = F.int(param.num_nodes, `${path}.tree_param.num_nodes`, 1, 1 << 30);
  const leafVector = Math.max(1, F.int(param.size_leaf_vector ?? '1', `${path}.tree_param.size_leaf_vector`, 0, 1 << 16));
  if (leafVector !== 1 && leafVector !== ctx.outputs) F.fail(`${path}.tree_param.size_leaf_vector`, `${leafVector} leaf values for ${ctx.outputs} outputs`);
  // Vector leaves (multi_strategy="multi_output_tree", src/tree/multi_target_tree_model.cc): a leaf's
  // right_children entry indexes leaf_weights, which holds size_leaf_vector values per leaf.
  const leafWeights = leafVector > 1 ? F.numbers(t.leaf_weights, `${path}.leaf_weights`, undefined, { nan: true }) : [];
  const left = F.ints(t.left_children, `${path}.left_children`, n, -1, n - 1);
  const right = F.ints(t.right_children, `${path}.right_children`, n, -1, leafVector > 1 ? Math.max(n - 1, Math.floor(leafWeights.length / leafVector) - 1) : n - 1);
  const feature = F.ints(t.split_indices, `${path}.split_indices`, n, 0, Math.max(0, ctx.features - 1));
  // NaN is kept: XGBoost 1.7 writes it for categorical splits, and x < NaN is false in both XGBoost and ONNX.
  const cond = F.numbers(t.split_conditions, `${path}.split_conditions`, n, { nan: true });
  const defaultLeft = F.ints(t.default_left, `${path}.default_left`, n, 0, 1);
  const splitType = t.split_type === undefined ? new Array<number>(n).fill(0) : F.ints(t.split_type, `${path}.split_type`, n, 0, 1);
  const catNodes = F.ints(t.categories_nodes ?? [], `${path}.categories_nodes`, undefined, 0, n - 1);
  const catSegments = F.ints(t.categories_segments ?? [], `${path}.categories_segments`, catNodes.length, 0);
  const catSizes = F.ints(t.categories_sizes ?? [], `${path}.categories_sizes`, catNodes.length, 0);
  const categories = F.ints(t.categories ?? [], `${path}.categories`, undefined, 0, (1 << 24) - 1);
  const members = new Map<number, number[]>();
  catNodes.forEach((node, k) => {
    if (catSegments[k] + catSizes[k] > categories.length) F.fail(`${path}.categories_segments[${k}]`, 'points past the categories');
    members.set(node, categories.slice(catSegments[k], catSegments[k] + catSizes[k]));
  });

  const seen = new Uint8Array(n);
  const depth = new Uint32Array(n);
  const build = (root: number, output: number): TreeNode => {
    // Iterative post-order, so a deep (or malicious) tree cannot exhaust the call stack.
    const done = new Map<number, TreeNode>();
    const stack = [root];
    while (stack.length > 0) {
      const i = stack[stack.length - 1];
      if (seen[i] === 0) {
        seen[i] = 1;
        if (leafVector > 1 ? left[i] === -1 : left[i] === -1 || right[i] === -1) {
          if (leafVector === 1 && left[i] !== right[i]) F.fail(`${path} node ${i}`, 'has one child');
          const raw = leafVector > 1 ? leafWeights[right[i] * leafVector + output] : cond[i];
          if (raw === undefined) F.fail(`${path} node ${i}`, `leaf ${right[i]} has no leaf_weights`);
          const value = weight === undefined ? raw : f32(f32(raw) * weight);
          done.set(i, { value: f32(value) });
          stack.pop();
          continue;
        }
        for (const c of [left[i], right[i]]) {
          if (c < 0) F.fail(`${path} node ${i}`, 'has one child');
          if (seen[c] !== 0) F.fail(`${path} node ${i}`, `child ${c} is reached twice (the tree has a cycle or shared node)`);
          depth[c] = depth[i] + 1;
          if (depth[c] > MAX_TREE_DEPTH) F.fail(path, `deeper than ${MAX_TREE_DEPTH} levels, which onnxruntime cannot load safely; retrain with a max_depth`);
          stack.push(c);
        }
        continue;
      }
      stack.pop();
      if (done.has(i)) continue;
      const l = done.get(left[i]), r = done.get(right[i]);
      if (l === undefined || r === undefined) F.fail(`${path} node ${i}`, 'children out of order');
      if (splitType[i] === 1) {
        const set = members.get(i);
        if (set === undefined) F.fail(`${path} node ${i}`, 'a categorical split without categories');
        ctx.maxCategory.set(feature[i], set.reduce((m, c) => Math.max(m, c), ctx.maxCategory.get(feature[i]) ?? -1));
        // Categories in the set go right (categorical.h Decision): MEMBER true → right.
        done.set(i, { feature: ctx.categorical(feature[i]), mode: 'MEMBER', members: set, missingGoesTrue: defaultLeft[i] === 0, whenTrue: r, whenFalse: l });
      } else {
        done.set(i, { feature: feature[i], mode: 'LT', threshold: f32(cond[i]), missingGoesTrue: defaultLeft[i] === 1, whenTrue: l, whenFalse: r });
      }
      done.delete(left[i]);
      done.delete(right[i]);
    }
    return done.get(root)!;
  };
  if (leafVector === 1) return [{ root: build(0, 0), target }];
  // One tree per output, each with that output's leaf values (TreeEnsemble leaves carry one target).
  return Array.from({ length: leafVector }, (_, k) => {
    seen.fill(0);
    return { root: build(0, k), target: k };
  });
}

export function describeXgboost(file: string, doc: unknown): ModelDescription {
  const F: Fields = new Fields(file);
  const root = F.object(doc, '');
  if (root.learner === undefined) F.fail('', 'no "learner": not an XGBoost model saved with Booster.save_model (JSON or UBJSON)');
  F.known(root, '', KNOWN.root, 'XGBoost');
  const version = root.version === undefined ? [] : F.ints(root.version, 'version', undefined, 0);
  const learner = F.object(root.learner, 'learner');
  F.known(learner, 'learner', KNOWN.learner, 'XGBoost');
  const param = F.object(learner.learner_model_param, 'learner.learner_model_param');
  F.known(param, 'learner.learner_model_param', KNOWN.param, 'XGBoost');
  const features = F.int(param.num_feature, 'learner.learner_model_param.num_feature', 1, 1 << 24);
  const numClass = F.int(param.num_class ?? '0', 'learner.learner_model_param.num_class', 0, 1 << 16);
  const numTarget = F.int(param.num_target ?? '1', 'learner.learner_model_param.num_target', 1, 1 << 16);
  const outputs = numClass > 1 ? numClass : numTarget;

  const objectiveName = F.string(F.object(learner.objective, 'learner.objective').name, 'learner.objective.name');
  if (REFUSED_OBJECTIVES[objectiveName] !== undefined) F.fail('learner.objective', REFUSED_OBJECTIVES[objectiveName]);
  const objective = XGB_OBJECTIVES[objectiveName];
  if (objective === undefined) F.fail('learner.objective', `unknown objective "${objectiveName}"; converted: ${Object.keys(XGB_OBJECTIVES).join(', ')}`);
  const scores = baseScores(F, param.base_score, outputs);
  const base = objective.toMargins !== undefined ? objective.toMargins(scores) : scores.map(objective.toMargin);

  const names = learner.feature_names === undefined ? [] : F.array(learner.feature_names, 'learner.feature_names').map((v, i) => F.string(v, `learner.feature_names[${i}]`));
  if (names.length !== 0 && names.length !== features) F.fail('learner.feature_names', `${names.length} names for ${features} features`);
  const types = learner.feature_types === undefined ? [] : F.array(learner.feature_types, 'learner.feature_types').map((v, i) => F.string(v, `learner.feature_types[${i}]`));
  if (types.length !== 0 && types.length !== features) F.fail('learner.feature_types', `${types.length} types for ${features} features`);
  const featureTypes = Array.from({ length: features }, (_, i) => {
    const type = types.length === 0 ? 'numeric' : FEATURE_TYPES[types[i]];
    if (type === undefined) F.fail(`learner.feature_types[${i}]`, `unknown feature type "${types[i]}"; known: ${Object.keys(FEATURE_TYPES).join(', ')}`);
    return type;
  });

  const booster = F.object(learner.gradient_booster, 'learner.gradient_booster');
  const boosterName = F.string(booster.name, 'learner.gradient_booster.name');
  const producer = `xgboost ${version.join('.') || 'unknown version'}`;
  const head = objective.head(outputs);
  const common = { format: 'xgboost' as const, producer, objective: objectiveName, booster: boosterName, head, inexact: objective.note === undefined ? [] : [objective.note] };

  if (boosterName === 'gblinear') {
    F.known(booster, 'learner.gradient_booster', KNOWN.gblinear, 'XGBoost');
    const model = F.object(booster.model, 'learner.gradient_booster.model');
    F.known(model, 'learner.gradient_booster.model', KNOWN.linearModel, 'XGBoost');
    const weights = F.numbers(model.weights, 'learner.gradient_booster.model.weights', (features + 1) * outputs).map(f32);
    const featureRecords = featureTypes.map((type, i): FeatureRecord => ({ name: names[i] ?? `f${i}`, type: type === 'categorical' ? 'numeric' : type }));
    return {
      ...common,
      features: featureRecords,
      trees: 0,
      ensemble: { elementType: 'FP32', features, targets: outputs, trees: [] },
      emitMargin: (g, input) => linearMargin(g, input, features, outputs, weights, base),
    };
  }
  if (boosterName !== 'gbtree' && boosterName !== 'dart') F.fail('learner.gradient_booster.name', `unknown booster "${boosterName}"; converted: gbtree, dart, gblinear`);
  const gbtree = boosterName === 'dart' ? F.object(booster.gbtree, 'learner.gradient_booster.gbtree') : booster;
  const modelPath = boosterName === 'dart' ? 'learner.gradient_booster.gbtree.model' : 'learner.gradient_booster.model';
  F.known(booster, 'learner.gradient_booster', boosterName === 'dart' ? KNOWN.dart : KNOWN.gbtree, 'XGBoost');
  if (boosterName === 'dart') F.known(gbtree, 'learner.gradient_booster.gbtree', KNOWN.gbtree, 'XGBoost');
  const model = F.object(gbtree.model, modelPath);
  F.known(model, modelPath, KNOWN.treeModel, 'XGBoost');
  const allTrees = F.array(model.trees, `${modelPath}.trees`);
  const treeInfo = F.ints(model.tree_info, `${modelPath}.tree_info`, allTrees.length, 0, outputs - 1);
  const weights = boosterName === 'dart' ? F.numbers(booster.weight_drop, 'learner.gradient_booster.weight_drop', allTrees.length).map(f32) : undefined;
  const rawTrees = allTrees.slice(0, usedTrees(F, learner, model, modelPath, allTrees.length, outputs));

  const derived: DerivedColumn[] = [];
  const derivedIndex = new Map<number, number>();
  const ctx: TreeContext = {
    F,
    features,
    outputs,
    maxCategory: new Map(),
    categorical: (feature) => {
      let index = derivedIndex.get(feature);
      if (index === undefined) {
        index = features + derived.length;
        derived.push({ source: feature, transform: 'truncate' });
        derivedIndex.set(feature, index);
      }
      return index;
    },
  };
  const trees: Tree[] = rawTrees.flatMap((t, i) => readTree(ctx, t, `${modelPath}.trees[${i}]`, weights?.[i], treeInfo[i]));

  const cats = categoryNames(F, model.cats, features, `${modelPath}.cats`);
  const featureRecords = featureTypes.map((type, i): FeatureRecord => {
    const name = names[i] ?? `f${i}`;
    if (type !== 'categorical') return { name, type };
    // Without recorded names (XGBoost < 3), the categories are the codes the model was trained on.
    const categories = cats.get(i) ?? Array.from({ length: (ctx.maxCategory.get(i) ?? -1) + 1 }, (_, k) => String(k));
    // An unseen category: an invalid code, which XGBoost sends left at every categorical split (categorical.h InvalidCat).
    return { name, type, categories, unseen: -1 };
  });
  return { ...common, features: featureRecords, trees: rawTrees.length, ensemble: { elementType: 'FP32', features, derived, targets: outputs, trees, base, baseFirst: true, sequentialSum: true } };
}

/**
 * How many trees predict. A model saved by the scikit-learn wrapper (attributes.scikit_learn) after early
 * stopping predicts with its first best_iteration + 1 iterations (xgboost/sklearn.py _get_iteration_range),
 * which is how it is used once loaded; Booster.predict and every other model use all trees.
 */
function usedTrees(F: Fields, learner: Record<string, unknown>, model: Record<string, unknown>, modelPath: string, trees: number, outputs: number): number {
  const attributes = learner.attributes === undefined ? {} : F.object(learner.attributes, 'learner.attributes');
  if (attributes.scikit_learn === undefined || attributes.best_iteration === undefined) return trees;
  const best = F.int(attributes.best_iteration, 'learner.attributes.best_iteration', 0);
  if (model.iteration_indptr !== undefined) {
    const indptr = F.ints(model.iteration_indptr, `${modelPath}.iteration_indptr`, undefined, 0, trees);
    return best + 1 < indptr.length ? indptr[best + 1] : trees;
  }
  // XGBoost < 2 has no iteration_indptr: each iteration grew num_parallel_tree trees per output.
  const param = model.gbtree_model_param === undefined ? {} : F.object(model.gbtree_model_param, `${modelPath}.gbtree_model_param`);
  const parallel = F.int(param.num_parallel_tree ?? '1', `${modelPath}.gbtree_model_param.num_parallel_tree`, 1);
  return Math.min(trees, (best + 1) * parallel * outputs);
}

/** gblinear: bias + Σ weight·x over the features present (a missing one contributes nothing), + base. */
function linearMargin(g: GraphBuilder, input: string, features: number, outputs: number, weights: number[], base: number[]): string {
  const present = g.op('Where', [g.op('IsNaN', [input]), g.scalar('FP32', 0), input]);
  const w = g.constant('FP32', [features, outputs], weights.slice(0, features * outputs), 'gblinear_weights');
  // Every output group starts from base_score(0) (src/gbm/gblinear.cc, PredictBatchInternal), not its own.
  const bias = weights.slice(features * outputs).map((b) => f32(b + base[0]));
  return g.op('Add', [g.op('MatMul', [present, w]), g.constant('FP32', [outputs], bias, 'gblinear_bias')]);
}

export function convertXgboost(file: string, bytes: Uint8Array): Conversion {
  return emitConversion(file, bytes, describeXgboost(file, parseXgboost(file, bytes)));
}
