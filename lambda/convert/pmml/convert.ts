/**
 * A PMML document (4.1 to 4.4) to an ONNX model and its conversion record: parse (xml.ts), describe
 * (dictionary.ts), then compile the model into a graph of standard ONNX operators (scope.ts,
 * predicates.ts, tree.ts, models.ts). The ONNX model takes one `features` matrix [N, n] of doubles in
 * the record's feature order (categorical values as their index in the recorded categories, missing
 * as NaN) and answers `label` + `probabilities` (classification) or `prediction` (regression).
 */
import { sha256 } from '../describe.ts';
import { ConversionError } from '../errors.ts';
import { CONVERTER, type ConversionRecord, type OutputRecord } from '../record.ts';
import { MODEL_ELEMENTS, SUPPORTED_MODELS } from './catalog.ts';
import { readDataDictionary, readMiningSchema, type DataFieldDef, type MiningFieldDef } from './dictionary.ts';
import { PmmlError } from './errors.ts';
import { GraphBuilder } from './graph.ts';
import { compileModel, functionOf, modelScope } from './models.ts';
import { scorecard } from './scorecard.ts';
import { inputVal, Scope, type Context } from './scope.ts';
import { attr, child, childrenNamed, parseXml, type Element, type XmlLimits } from './xml.ts';

export const PMML_FILE = 'model.pmml';
const VERSIONS = ['4.1', '4.2', '4.2.1', '4.3', '4.4', '4.4.1'];
const DOUBLE = 11;
const INT64 = 7;
const STRING = 8;

/** A feature as conversion.json records it (CONVERSION-CONTRACT.md), with PMML's validity rules as optional extras. */
export interface PmmlFeature {
  readonly name: string;
  readonly type: 'numeric' | 'integer' | 'boolean' | 'categorical';
  readonly categories?: readonly string[];
  readonly unseen?: number | null;
  /** PMML's dataType and optype, as the DataDictionary declares them. */
  readonly dataType: string;
  readonly optype: string;
  /** What a value outside the valid ones does: returnInvalid (answer 400, naming it), asIs, asMissing, asValue. */
  readonly invalidValueTreatment: string;
  readonly invalidValueReplacement?: string;
  /** Numeric: the valid intervals (none: every number is valid). */
  readonly intervals?: readonly { closure: string; left: number | null; right: number | null }[];
  /** Values declared invalid, and values that mean missing. */
  readonly invalidValues?: readonly string[];
  readonly missingValues?: readonly string[];
  readonly missingValueReplacement?: string;
}

export interface PmmlRecord extends ConversionRecord {
  readonly format: 'pmml';
  readonly task: 'classification' | 'regression' | 'scorecard';
  /** Scorecards: every reason code, as the `reason_codes` output names them. */
  readonly reasonCodes?: readonly string[];
  readonly inputType: 'FP64';
  readonly features: readonly PmmlFeature[];
  /** PMML specifics: the version, the model element and its target field. */
  readonly pmml: { readonly version: string; readonly model: string; readonly target?: string };
}

export interface PmmlConversion {
  readonly onnx: Uint8Array;
  readonly record: PmmlRecord;
}

/** The registry's entry (lambda/convert/registry.ts): a PmmlError becomes the ConversionError naming the file. */
export function convertPmmlModel(fileName: string, bytes: Uint8Array): PmmlConversion {
  try {
    return convertPmml(bytes, fileName);
  } catch (error) {
    if (error instanceof PmmlError) throw new ConversionError(fileName, error.message);
    throw error;
  }
}

/** Converts a PMML document; throws PmmlError naming the problem. */
export function convertPmml(bytes: Uint8Array, fileName = PMML_FILE, limits?: XmlLimits): PmmlConversion {
  const root = parseXml(bytes, limits);
  const version = root.attrs.version ?? '';
  if (!VERSIONS.includes(version)) throw new PmmlError(`the document is PMML version "${version}"; the converter takes PMML 4.1 to 4.4`);
  const dictionary = readDataDictionary(root);
  const models = root.children.filter((c) => MODEL_ELEMENTS.has(c.name));
  if (models.length === 0) throw new PmmlError(`the document holds no model; the converter takes ${SUPPORTED_MODELS.join(', ')}`);
  const model = models.find((m) => m.attrs.isScorable !== 'false') ?? models[0];
  if (!(SUPPORTED_MODELS as readonly string[]).includes(model.name)) {
    throw new PmmlError(`<${model.name}> models are not supported; the converter takes ${SUPPORTED_MODELS.join(', ')}`);
  }
  const fn = functionOf(model);

  const globalDerived = new Map<string, Element>();
  const transformations = child(root, 'TransformationDictionary');
  if (transformations !== undefined) {
    if (childrenNamed(transformations, 'DefineFunction').length > 0) {
      throw new PmmlError('the TransformationDictionary defines functions (DefineFunction), which the converter does not support');
    }
    for (const d of childrenNamed(transformations, 'DerivedField')) globalDerived.set(attr(d, 'name'), d);
  }

  const g = new GraphBuilder();
  const ctx: Context = { g, dictionary, globalDerived, invalidMasks: [], inexact: [] };
  const scope = new Scope(ctx);
  const mining = readMiningSchema(model);
  const features: PmmlFeature[] = [];
  let target: string | undefined;
  for (const m of mining) {
    if (m.usageType === 'target' || m.usageType === 'predicted') {
      target = m.name;
      continue;
    }
    if (m.usageType !== 'active') continue;
    const field = dictionary.get(m.name);
    if (field === undefined) {
      if (globalDerived.has(m.name)) continue;
      throw new PmmlError(`MiningField "${m.name}" is not declared in the DataDictionary`);
    }
    const column = features.length;
    features.push(featureRecord(field, m, model));
    scope.set(m.name, inputVal(ctx, field, column, m));
  }
  if (features.length === 0) throw new PmmlError('the model has no active input field in its MiningSchema');

  const { result } = model.name === 'Scorecard' ? { result: scorecard(model, modelScope(model, scope)) } : compileModel(model, scope);
  const invalid = ctx.invalidMasks.length === 0 ? undefined : ctx.invalidMasks.reduce((a, b) => g.op('Or', [a, b]));
  let outputs: OutputRecord[];
  let classes: string[] | undefined;
  let reasonCodes: readonly string[] | undefined;
  if (result.kind === 'scorecard') {
    // score [N, 1]; reason_codes [N, K]: every reason code, ranked by the points it cost (most first).
    g.output('score', invalid === undefined ? result.score : g.nanWhere(invalid, result.score), DOUBLE, [-1, 1]);
    g.output('reason_codes', g.op('Gather', [g.strings([...result.reasonCodes, '']), result.ranking], { axis: 0 }), STRING, [-1, result.reasonCodes.length]);
    outputs = [{ name: 'score', datatype: 'FP64', shape: [-1, 1] }, { name: 'reason_codes', datatype: 'BYTES', shape: [-1, result.reasonCodes.length] }];
    reasonCodes = result.reasonCodes;
  } else if (result.kind === 'classification') {
    const probs = invalid === undefined ? result.probs : g.nanWhere(invalid, result.probs);
    const label = invalid === undefined ? result.label : g.nanWhere(invalid, result.label);
    // No answer (a missing prediction, or an invalid input kept as returnInvalid): label -1, probabilities NaN.
    const labelIndex = g.op('Cast', [g.op('Squeeze', [g.where(g.isNaN(label), g.scalar(-1), label), g.int64([1])])], { to: INT64 });
    g.output('label', labelIndex, INT64, [-1]);
    g.output('probabilities', probs, DOUBLE, [-1, result.classes.length]);
    outputs = [{ name: 'label', datatype: 'INT64', shape: [-1] }, { name: 'probabilities', datatype: 'FP64', shape: [-1, result.classes.length] }];
    classes = [...result.classes];
  } else {
    g.output('prediction', invalid === undefined ? result.value : g.nanWhere(invalid, result.value), DOUBLE, [-1, 1]);
    outputs = [{ name: 'prediction', datatype: 'FP64', shape: [-1, 1] }];
  }
  const header = child(root, 'Header');
  const application = header === undefined ? undefined : child(header, 'Application');
  const producer = application === undefined ? undefined : [application.attrs.name, application.attrs.version].filter(Boolean).join(' ');
  const trees = countElements(model, 'TreeModel');
  const record: PmmlRecord = {
    format: 'pmml',
    source: { file: fileName, sha256: sha256(bytes), producer: producer || 'unknown (the PMML Header names no Application)' },
    converter: CONVERTER,
    task: model.name === 'Scorecard' ? 'scorecard' : fn,
    objective: describeModel(model),
    link: linkOf(model),
    inputType: 'FP64',
    features,
    ...(classes !== undefined ? { classes } : {}),
    ...(reasonCodes !== undefined ? { reasonCodes } : {}),
    targets: 1,
    trees,
    outputs,
    inexact: [...new Set(ctx.inexact)],
    pmml: { version, model: model.name, ...(target !== undefined ? { target } : {}) },
  };
  const onnx = g.build(features.length, { 'modelship.source_format': 'pmml', 'modelship.pmml_model': model.name });
  return { onnx, record };
}

function featureRecord(field: DataFieldDef, m: MiningFieldDef, model: Element): PmmlFeature {
  const optype = m.optype ?? field.optype;
  const common = {
    dataType: field.dataType,
    optype,
    invalidValueTreatment: m.invalidValueTreatment,
    ...(m.invalidValueReplacement !== undefined ? { invalidValueReplacement: m.invalidValueReplacement } : {}),
    ...(field.intervals.length > 0 ? { intervals: field.intervals.map((i) => ({ closure: i.closure, left: Number.isFinite(i.left) ? i.left : null, right: Number.isFinite(i.right) ? i.right : null })) } : {}),
    ...(field.invalidValues.length > 0 ? { invalidValues: field.invalidValues } : {}),
    ...(field.missingValues.length > 0 ? { missingValues: field.missingValues } : {}),
    ...(m.missingValueReplacement !== undefined ? { missingValueReplacement: m.missingValueReplacement } : {}),
  };
  if (field.dataType === 'boolean') return { name: field.name, type: 'boolean', ...common };
  if (!field.isCategorical) return { name: field.name, type: field.dataType === 'integer' ? 'integer' : 'numeric', ...common };
  if (field.validValues.length === 0) {
    throw new PmmlError(`categorical field "${field.name}" lists no values in the DataDictionary; the converter needs them to take the field by value (add <Value value="..."/> elements)`);
  }
  void model;
  const categories = [...field.validValues, ...field.invalidValues, ...field.missingValues];
  // A category outside the list: as PMML's invalidValueTreatment says (returnInvalid is answered 400 before it reaches the model).
  const unseen = m.invalidValueTreatment === 'asMissing' ? null : -1;
  return { name: field.name, type: 'categorical', categories, unseen, ...common };
}

function countElements(e: Element, name: string): number {
  return (e.name === name ? 1 : 0) + e.children.reduce((n, c) => n + countElements(c, name), 0);
}

function describeModel(model: Element): string {
  const parts = [model.name, model.attrs.functionName];
  if (model.name === 'MiningModel') {
    const s = child(model, 'Segmentation');
    if (s?.attrs.multipleModelMethod) parts.push(s.attrs.multipleModelMethod);
  }
  if (model.attrs.algorithmName) parts.push(model.attrs.algorithmName);
  return parts.filter(Boolean).join(' ');
}

function linkOf(model: Element): string {
  if (model.name === 'RegressionModel') return model.attrs.normalizationMethod ?? 'none';
  if (model.name === 'MiningModel') {
    const segments = childrenNamed(child(model, 'Segmentation') ?? model, 'Segment');
    const last = segments.at(-1)?.children.find((c) => MODEL_ELEMENTS.has(c.name));
    if (child(model, 'Segmentation')?.attrs.multipleModelMethod === 'modelChain' && last !== undefined) return linkOf(last);
  }
  return 'identity';
}
