/**
 * DataDictionary and MiningSchema (PMML 4.4, "Data Dictionary" and "Mining Schema"): what each field
 * is, which values are valid, invalid or mean missing, and what a model does with a missing or invalid
 * value. This file only describes; scope.ts turns it into graph values.
 */
import { PmmlError } from './errors.ts';
import { attr, child, childrenNamed, numberAttr, parseNumber, type Element } from './xml.ts';

export type Optype = 'continuous' | 'categorical' | 'ordinal';

export interface Interval {
  readonly closure: 'openClosed' | 'openOpen' | 'closedOpen' | 'closedClosed';
  readonly left: number;
  readonly right: number;
}

export interface DataFieldDef {
  readonly name: string;
  readonly optype: Optype;
  readonly dataType: string;
  /** Values declared valid (property "valid" or none), in declared order. */
  readonly validValues: readonly string[];
  readonly invalidValues: readonly string[];
  readonly missingValues: readonly string[];
  readonly intervals: readonly Interval[];
  /** The categories an input carries as indices: valid, then invalid, then missing values. */
  readonly isCategorical: boolean;
}

export type UsageType = 'active' | 'target' | 'predicted' | 'supplementary' | 'group' | 'order' | 'frequencyWeight' | 'analysisWeight';
export type InvalidTreatment = 'returnInvalid' | 'asIs' | 'asMissing' | 'asValue';

export interface MiningFieldDef {
  readonly name: string;
  readonly usageType: UsageType;
  readonly optype?: Optype;
  readonly outliers: 'asIs' | 'asMissingValues' | 'asExtremeValues';
  readonly lowValue?: number;
  readonly highValue?: number;
  readonly missingValueReplacement?: string;
  readonly invalidValueTreatment: InvalidTreatment;
  readonly invalidValueReplacement?: string;
}

const NUMERIC_TYPES = new Set(['integer', 'float', 'double']);
const KNOWN_TYPES = new Set(['string', 'integer', 'float', 'double', 'boolean']);
const OPTYPES = new Set(['continuous', 'categorical', 'ordinal']);

export const isNumericType = (dataType: string): boolean => NUMERIC_TYPES.has(dataType);

export function readOptype(e: Element, fallback?: Optype): Optype {
  const raw = e.attrs.optype ?? fallback;
  if (raw === undefined) throw new PmmlError(`<${e.name} name="${e.attrs.name ?? ''}"> (line ${e.line}) has no optype`);
  if (!OPTYPES.has(raw)) throw new PmmlError(`<${e.name}> (line ${e.line}) has optype "${raw}"; PMML knows continuous, categorical and ordinal`);
  return raw as Optype;
}

export function readDataType(e: Element, fallback?: string): string {
  const raw = e.attrs.dataType ?? fallback;
  if (raw === undefined) throw new PmmlError(`<${e.name} name="${e.attrs.name ?? ''}"> (line ${e.line}) has no dataType`);
  if (!KNOWN_TYPES.has(raw)) {
    throw new PmmlError(`field "${e.attrs.name ?? ''}" (line ${e.line}) has dataType "${raw}"; the converter takes string, integer, float, double and boolean (dates and times are not supported: send them as numbers)`);
  }
  return raw;
}

const CLOSURES = new Set(['openClosed', 'openOpen', 'closedOpen', 'closedClosed']);

export function readInterval(e: Element): Interval {
  const closure = attr(e, 'closure');
  if (!CLOSURES.has(closure)) throw new PmmlError(`<Interval> (line ${e.line}) has closure "${closure}"; PMML knows openClosed, openOpen, closedOpen and closedClosed`);
  return { closure: closure as Interval['closure'], left: numberAttr(e, 'leftMargin', -Infinity), right: numberAttr(e, 'rightMargin', Infinity) };
}

export function readDataDictionary(pmml: Element): Map<string, DataFieldDef> {
  const dictionary = child(pmml, 'DataDictionary');
  if (dictionary === undefined) throw new PmmlError('the document has no <DataDictionary>, which every PMML model needs');
  const fields = new Map<string, DataFieldDef>();
  for (const e of childrenNamed(dictionary, 'DataField')) {
    const name = attr(e, 'name');
    if (fields.has(name)) throw new PmmlError(`the DataDictionary declares field "${name}" twice`);
    const optype = readOptype(e);
    const dataType = readDataType(e);
    const validValues: string[] = [];
    const invalidValues: string[] = [];
    const missingValues: string[] = [];
    for (const v of childrenNamed(e, 'Value')) {
      const value = attr(v, 'value');
      const property = v.attrs.property ?? 'valid';
      if (property === 'valid') validValues.push(value);
      else if (property === 'invalid') invalidValues.push(value);
      else if (property === 'missing') missingValues.push(value);
      else throw new PmmlError(`<Value> of field "${name}" (line ${v.line}) has property "${property}"; PMML knows valid, invalid and missing`);
    }
    if (isNumericType(dataType)) for (const v of [...validValues, ...invalidValues, ...missingValues]) parseNumber(v, `a <Value> of ${dataType} field "${name}"`);
    const intervals = childrenNamed(e, 'Interval').map(readInterval);
    fields.set(name, { name, optype, dataType, validValues, invalidValues, missingValues, intervals, isCategorical: optype !== 'continuous' && dataType !== 'boolean' });
  }
  if (fields.size === 0) throw new PmmlError('the DataDictionary declares no fields');
  return fields;
}

const USAGE = new Set(['active', 'target', 'predicted', 'supplementary', 'group', 'order', 'frequencyWeight', 'analysisWeight']);
const TREATMENTS = new Set(['returnInvalid', 'asIs', 'asMissing', 'asValue']);
const OUTLIERS = new Set(['asIs', 'asMissingValues', 'asExtremeValues']);

export function readMiningSchema(model: Element): MiningFieldDef[] {
  const schema = child(model, 'MiningSchema');
  if (schema === undefined) throw new PmmlError(`<${model.name}> (line ${model.line}) has no <MiningSchema>, which every model needs`);
  return childrenNamed(schema, 'MiningField').map((e): MiningFieldDef => {
    const name = attr(e, 'name');
    const usageType = e.attrs.usageType ?? 'active';
    if (!USAGE.has(usageType)) throw new PmmlError(`<MiningField name="${name}"> (line ${e.line}) has usageType "${usageType}"; PMML knows ${[...USAGE].join(', ')}`);
    // PMML 4.1-4.3 wrote asIs for what 4.4 calls asIs; "asValue" is 4.4's, with invalidValueReplacement.
    const invalidValueTreatment = e.attrs.invalidValueTreatment ?? 'returnInvalid';
    if (!TREATMENTS.has(invalidValueTreatment)) throw new PmmlError(`<MiningField name="${name}"> (line ${e.line}) has invalidValueTreatment "${invalidValueTreatment}"; PMML knows returnInvalid, asIs, asMissing and asValue`);
    const outliers = e.attrs.outliers ?? 'asIs';
    if (!OUTLIERS.has(outliers)) throw new PmmlError(`<MiningField name="${name}"> (line ${e.line}) has outliers "${outliers}"; PMML knows asIs, asMissingValues and asExtremeValues`);
    const lowValue = e.attrs.lowValue === undefined ? undefined : numberAttr(e, 'lowValue');
    const highValue = e.attrs.highValue === undefined ? undefined : numberAttr(e, 'highValue');
    if (outliers !== 'asIs' && (lowValue === undefined || highValue === undefined)) throw new PmmlError(`<MiningField name="${name}"> (line ${e.line}) treats outliers ${outliers} but lacks lowValue or highValue`);
    if (invalidValueTreatment === 'asValue' && e.attrs.invalidValueReplacement === undefined) throw new PmmlError(`<MiningField name="${name}"> (line ${e.line}) has invalidValueTreatment asValue but no invalidValueReplacement`);
    return {
      name,
      usageType: usageType as UsageType,
      ...(e.attrs.optype !== undefined ? { optype: readOptype(e) } : {}),
      outliers: outliers as MiningFieldDef['outliers'],
      ...(lowValue !== undefined ? { lowValue } : {}),
      ...(highValue !== undefined ? { highValue } : {}),
      ...(e.attrs.missingValueReplacement !== undefined ? { missingValueReplacement: e.attrs.missingValueReplacement } : {}),
      invalidValueTreatment: invalidValueTreatment as InvalidTreatment,
      ...(e.attrs.invalidValueReplacement !== undefined ? { invalidValueReplacement: e.attrs.invalidValueReplacement } : {}),
    };
  });
}

/** Whether a value is valid for a continuous field by its intervals (none: every value). */
export function inIntervals(value: number, intervals: readonly Interval[]): boolean {
  if (intervals.length === 0) return true;
  return intervals.some(({ closure, left, right }) => {
    const l = closure.startsWith('closed') ? value >= left : value > left;
    const r = closure.endsWith('Closed') ? value <= right : value < right;
    return l && r;
  });
}
