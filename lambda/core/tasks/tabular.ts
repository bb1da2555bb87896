/**
 * Models converted from a native format (XGBoost, LightGBM, PMML): their features by name, from
 * conversion.json. A request names its features (:predict rows as objects, or v2 inputs one per
 * feature) or sends them in the model's order (:predict rows as arrays, or the v2 `features` tensor
 * [-1, n]); either way they become the one `features` matrix the converted ONNX model takes, in the
 * record's feature order: missing values NaN, booleans 1/0, a category as its index in the recorded
 * list (one the model never saw as the record's `unseen`, so it goes where the native library sends
 * it). Classifiers answer class names where the record or config.json names them.
 */
import { Tensor } from 'onnxruntime-node';
import type { ModelConfig } from '../config.ts';
import type { ConversionRecord, FeatureType } from '../conversion-record.ts';
import { datatypeFromV2 } from '../datatypes.ts';
import { badRequest, showValue } from '../errors.ts';
import { invalidValueReason, readValidity, type ValidityRecord } from '../feature-validity.ts';
import { formatShape, type Signature } from '../signature.ts';
import { flattenData } from '../tensor-values.ts';

export interface TabularFeature {
  readonly name: string;
  readonly type: FeatureType;
  /** Categorical: the recorded categories, in code order. */
  readonly categories?: readonly string[];
  /** Categorical: each category's code. */
  readonly codes?: ReadonlyMap<string, number>;
  /** Categorical: what a category not in the list is fed as (NaN: missing). */
  readonly unseen: number;
  /** PMML's validity rules, where the record carries invalidValueTreatment returnInvalid (a bad value is a 400). */
  readonly validity?: ValidityRecord;
}

/** What a converted model takes and answers, built once when the version loads. */
export interface TabularModel {
  readonly record: ConversionRecord;
  /** The ONNX input the features matrix feeds, and its element type. */
  readonly input: string;
  readonly inputType: 'FP32' | 'FP64';
  readonly features: readonly TabularFeature[];
  readonly byName: ReadonlyMap<string, number>;
  /** Class names a classifier's label answers with; undefined: it answers the class index. */
  readonly classNames?: readonly string[];
}

/** The names a classifier's label answers with: config.json's labels, or a converted model's class names. */
export const classLabels = (model: { readonly config: ModelConfig; readonly tabular?: TabularModel }): readonly string[] | undefined => model.tabular?.classNames ?? model.config.labels;

/** The input the contract gives every converted model: one matrix of features. */
export const FEATURES_INPUT = 'features';

/** Class names are answered where they name something: config.json's labels, else the record's classes unless they are only a tree library's indices 0..C-1. */
function classNamesOf(record: ConversionRecord, config: ModelConfig): readonly string[] | undefined {
  if (config.labels !== undefined) return config.labels;
  const classes = record.classes;
  if (classes === undefined) return undefined;
  // PMML names its target's categories (answered as named, "0" included); the tree libraries' classes are indices.
  if (record.format !== 'pmml' && classes.every((name, i) => name === String(i))) return undefined;
  return classes;
}

/** A converted model's record against its session: the one input the record describes, of its type and width. */
export function readTabularModel(record: ConversionRecord, config: ModelConfig, signature: Signature, where: string): TabularModel {
  const input = signature.inputs.find((s) => s.name === FEATURES_INPUT);
  if (input === undefined || signature.inputs.length !== 1) throw new Error(`${where}: a converted model takes one input "${FEATURES_INPUT}", but model.onnx takes ${signature.inputs.map((s) => s.name).join(', ')} (convert it again with modelship convert)`);
  const n = record.features.length;
  if (input.datatype.v2 !== record.inputType || input.shape.length !== 2 || (input.shape[1] !== -1 && input.shape[1] !== n)) {
    throw new Error(`${where}: conversion.json records ${n} features of ${record.inputType}, but model.onnx's input "${FEATURES_INPUT}" is ${input.datatype.v2} ${formatShape(input.shape)} (convert it again with modelship convert)`);
  }
  const features = record.features.map((f): TabularFeature => {
    const validity = readValidity(f);
    const checked = validity !== undefined ? { validity } : {};
    if (f.type !== 'categorical') return { name: f.name, type: f.type, unseen: Number.NaN, ...checked };
    const categories = f.categories ?? [];
    return { name: f.name, type: f.type, categories, codes: new Map(categories.map((c, i) => [c, i])), unseen: f.unseen ?? Number.NaN, ...checked };
  });
  return { record, input: input.name, inputType: record.inputType, features, byName: new Map(features.map((f, i) => [f.name, i])), classNames: classNamesOf(record, config) };
}

const NON_FINITE = new Map<unknown, number>([['NaN', Number.NaN], ['Infinity', Number.POSITIVE_INFINITY], ['-Infinity', Number.NEGATIVE_INFINITY]]);
/** Python's str() of a boolean, which is how pandas names a boolean column's categories. */
const pythonBool = (value: boolean): string => (value ? 'True' : 'False');

/**
 * One value of a feature as the number the model takes; null, undefined and "NaN" are missing.
 * `where` names the row or input in the 400.
 */
export function featureValue(feature: TabularFeature, value: unknown, where: string): number {
  if (value === null || value === undefined) return Number.NaN;
  if (feature.validity !== undefined) {
    const reason = invalidValueReason(feature.validity, value);
    if (reason !== undefined) throw badRequest(`${where}: ${reason}`, 'invalid_value');
  }
  const wrong = (expected: string): never => {
    throw badRequest(`${where}: feature "${feature.name}" is ${feature.type}; expected ${expected}, got ${showValue(value)}`, 'invalid_value');
  };
  switch (feature.type) {
    case 'numeric':
      if (typeof value === 'number') return value;
      if (NON_FINITE.has(value)) return NON_FINITE.get(value)!;
      return wrong('a number (null or absent when missing)');
    case 'integer':
      if (typeof value === 'number' && Number.isInteger(value)) return value;
      if (value === 'NaN') return Number.NaN;
      return wrong('an integer (null or absent when missing)');
    case 'boolean':
      if (typeof value === 'boolean') return value ? 1 : 0;
      if (value === 0 || value === 1) return value;
      if (value === 'NaN') return Number.NaN;
      return wrong('true or false (null or absent when missing)');
    case 'categorical': {
      let key: string;
      if (typeof value === 'string') key = value;
      else if (typeof value === 'number' && Number.isFinite(value)) key = String(value);
      else if (typeof value === 'boolean') key = pythonBool(value);
      else return wrong(`a category, as a string or a number (${describeCategories(feature)})`);
      return feature.codes!.get(key) ?? feature.unseen;
    }
  }
}

const describeCategories = (feature: TabularFeature): string => {
  const list = feature.categories ?? [];
  return list.length <= 10 ? `one of ${list.map((c) => JSON.stringify(c)).join(', ')}` : `${list.length} categories, see the model's metadata`;
};

const featureList = (model: TabularModel): string => model.features.map((f) => f.name).join(', ');

/** A matrix of `rows` rows in the model's element type. */
const matrix = (model: TabularModel, rows: number): Float32Array | Float64Array => (model.inputType === 'FP32' ? new Float32Array(rows * model.features.length) : new Float64Array(rows * model.features.length));

/**
 * :predict's instances as the features matrix: each row a list in feature order or an object keyed
 * by feature name (an absent key is missing). A wrong width, an unknown name or a value of the wrong
 * type is a 400 naming the row and the feature.
 */
export function rowsToFeatures(model: TabularModel, modelName: string, instances: readonly unknown[]): Tensor {
  const n = model.features.length;
  const out = matrix(model, instances.length);
  instances.forEach((row, r) => {
    const where = `instances[${r}]`;
    if (Array.isArray(row)) {
      if (row.length !== n) throw badRequest(`${where} has ${row.length} values but model "${modelName}" takes ${n} features, in this order: ${featureList(model)} (or send an object keyed by feature name)`, 'wrong_shape');
      for (let i = 0; i < n; i++) out[r * n + i] = featureValue(model.features[i], row[i], where);
      return;
    }
    if (typeof row !== 'object' || row === null) throw badRequest(`${where} must be a list of ${n} feature values or an object keyed by feature name, got ${showValue(row)}`);
    out.fill(Number.NaN, r * n, (r + 1) * n);
    for (const [key, value] of Object.entries(row)) {
      const index = model.byName.get(key);
      if (index === undefined) throw badRequest(`${where} has unknown feature "${key}"; model "${modelName}" takes: ${featureList(model)}`, 'input_mismatch');
      out[r * n + index] = featureValue(model.features[index], value, where);
    }
  });
  return new Tensor(model.inputType === 'FP32' ? 'float32' : 'float64', out, [instances.length, n]);
}

const TRUE_TEXT = new Set(['true', 'True', 'TRUE', '1']);
const FALSE_TEXT = new Set(['false', 'False', 'FALSE', '0']);

/**
 * A row of text cells (a CSV line under its header) as an object keyed by feature name: an empty
 * cell is missing, numbers and booleans read from their text, categories kept as written ("8" finds
 * the category "8"). A column the model does not know is kept, so the row's 400 names it.
 */
export function textRow(model: TabularModel, columns: readonly string[], cells: readonly string[]): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  columns.forEach((column, i) => {
    const cell = cells[i].trim();
    const feature = model.features[model.byName.get(column) ?? -1];
    if (cell === '') row[column] = null;
    else if (feature === undefined || feature.type === 'categorical') row[column] = cells[i];
    else if (feature.type === 'boolean') row[column] = TRUE_TEXT.has(cell) ? true : FALSE_TEXT.has(cell) ? false : cell;
    else row[column] = Number.isFinite(Number(cell)) ? Number(cell) : cell;
  });
  return row;
}

/** One v2 input, as the tensor path has it before decoding. */
export interface NamedInput {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly data: unknown;
}

/** Whether v2 inputs name features one by one (anything but the one `features` tensor). */
export const namesFeatures = (model: TabularModel, inputs: readonly NamedInput[]): boolean => !(inputs.length === 1 && inputs[0].name === model.input);

/**
 * v2 inputs one per feature ([rows] or [rows, 1]; BYTES for a categorical one's names, BOOL or
 * numbers for a boolean, numbers otherwise) as the features matrix; a feature not sent is missing.
 */
export function namedInputsToFeatures(model: TabularModel, modelName: string, inputs: readonly NamedInput[]): Tensor {
  let rows: number | undefined;
  const columns = new Map<number, readonly unknown[]>();
  for (const input of inputs) {
    const index = model.byName.get(input.name);
    if (index === undefined) {
      const hint = input.name === model.input ? `; send either the "${model.input}" tensor alone or one input per feature` : '';
      throw badRequest(`unknown input "${input.name}" for model "${modelName}": it takes the "${model.input}" tensor [-1, ${model.features.length}] or one input per feature (${featureList(model)})${hint}`, 'input_mismatch');
    }
    if (columns.has(index)) throw badRequest(`input "${input.name}" is given twice`);
    const feature = model.features[index];
    const info = datatypeFromV2(input.datatype);
    const allowed = feature.type === 'categorical' ? info !== undefined : feature.type === 'boolean' ? info !== undefined && info.kind !== 'string' : info !== undefined && info.kind !== 'string' && info.kind !== 'bool';
    if (!allowed) {
      const expected = feature.type === 'categorical' ? 'BYTES (the category names) or a number type' : feature.type === 'boolean' ? 'BOOL or a number type' : 'FP32, FP64 or an integer type';
      throw badRequest(`input "${input.name}" has datatype ${input.datatype} but feature "${feature.name}" is ${feature.type}: send ${expected}`, 'wrong_datatype');
    }
    if (!(input.shape.length === 1 || (input.shape.length === 2 && input.shape[1] === 1))) throw badRequest(`input "${input.name}" has shape ${formatShape(input.shape)}; a feature's input is [rows] or [rows, 1]`, 'wrong_shape');
    const values = flattenData(input.data, input.name);
    if (values.length !== input.shape[0]) throw badRequest(`input "${input.name}" has ${values.length} values but shape ${formatShape(input.shape)} needs ${input.shape[0]}`, 'wrong_shape');
    if (rows !== undefined && values.length !== rows) throw badRequest(`input "${input.name}" has ${values.length} rows but the inputs before it have ${rows}; every feature's input needs one value per row`, 'wrong_shape');
    rows = values.length;
    columns.set(index, values);
  }
  const n = model.features.length;
  const count = rows ?? 0;
  const out = matrix(model, count).fill(Number.NaN);
  for (const [index, values] of columns) {
    const feature = model.features[index];
    for (let r = 0; r < count; r++) out[r * n + index] = featureValue(feature, values[r], `input "${feature.name}" row ${r}`);
  }
  return new Tensor(model.inputType === 'FP32' ? 'float32' : 'float64', out, [count, n]);
}

/** The features, their types and categories, as metadata and the console show them. */
export function describeFeatures(model: TabularModel): { name: string; type: FeatureType; categories?: readonly string[] }[] {
  return model.features.map((f) => ({ name: f.name, type: f.type, ...(f.categories !== undefined ? { categories: f.categories } : {}) }));
}
