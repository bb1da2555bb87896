/**
 * Field values in the graph, and PMML's transformations over them ("Transformations" and "Built-in
 * Functions" of PMML 4.4). Every value is a DOUBLE [N, 1] tensor with NaN for missing; a categorical
 * value is its index in the value's `domain` (-1: a value outside it, kept as is). Fields are
 * resolved by name through nested scopes: a model's LocalTransformations, then its parents' fields,
 * then the TransformationDictionary.
 */
import type { DataFieldDef, MiningFieldDef, Optype } from './dictionary.ts';
import { inIntervals, isNumericType, readDataType, readInterval, readOptype } from './dictionary.ts';
import { PmmlError } from './errors.ts';
import type { GraphBuilder } from './graph.ts';
import { arrayTokens, attr, child, childrenNamed, numberAttr, parseNumber, type Element } from './xml.ts';

export interface Val {
  readonly t: string;
  /** Categorical: the values the indices in `t` stand for. */
  readonly domain?: readonly string[];
  readonly dataType: string;
  readonly optype: Optype;
  /** A constant: its value as written (so a categorical comparison can look it up). */
  readonly constant?: string;
  /** The column of a matrix this value is, untouched (so a linear model or a forest takes many columns in one Gather). */
  readonly source?: { readonly matrix: string; readonly column: number };
}

export interface Context {
  readonly g: GraphBuilder;
  readonly dictionary: ReadonlyMap<string, DataFieldDef>;
  /** The TransformationDictionary's DerivedFields by name. */
  readonly globalDerived: ReadonlyMap<string, Element>;
  /** Rows an input with invalidValueTreatment returnInvalid made invalid (0/1 [N,1]); their answers become NaN. */
  readonly invalidMasks: string[];
  /** Notes of anything not exact, for conversion.json. */
  readonly inexact: string[];
}

/** A column of N copies of one value. */
export function filled(ctx: Context, value: number): string {
  const { g } = ctx;
  const rows = g.op('Shape', [g.input], { start: 0, end: 1 });
  return g.op('Expand', [g.scalar(value), g.op('Concat', [rows, g.int64([1])], { axis: 0 })]);
}

export const isCategorical = (v: Val): boolean => v.domain !== undefined;

/** The index a value takes in a domain (numbers compared as numbers), or -1. */
export function domainIndex(domain: readonly string[], value: string, dataType: string): number {
  const i = domain.indexOf(value);
  if (i >= 0 || !isNumericType(dataType)) return i;
  const n = Number(value);
  return Number.isNaN(n) ? -1 : domain.findIndex((d) => Number(d) === n);
}

/** A categorical value looked up in a table by its index (NaN stays NaN; -1 gives `outside`). */
export function lookup(ctx: Context, v: Val, table: readonly number[], outside: number): string {
  const { g } = ctx;
  const missing = g.isNaN(v.t);
  const negative = g.op('Less', [v.t, g.scalar(0)]);
  const safe = g.op('Cast', [g.where(g.op('Or', [missing, negative]), g.scalar(0), v.t)], { to: 7 });
  const found = g.op('Gather', [g.constant(table.length === 0 ? [NaN] : table), g.op('Squeeze', [safe, g.int64([1])])], { axis: 0 });
  const column = g.op('Unsqueeze', [found, g.int64([1])]);
  return g.where(missing, g.scalar(NaN), g.where(negative, g.scalar(outside), column));
}

/** A value as a number: categorical values through their domain (a value that is not a number: NaN). */
export function numeric(ctx: Context, v: Val): string {
  if (v.domain === undefined) return v.t;
  return lookup(ctx, v, v.domain.map((d) => (d.trim() === '' ? NaN : Number(d))), NaN);
}

/** A categorical value re-indexed into another domain. */
export function recode(ctx: Context, v: Val, domain: readonly string[], dataType: string): string {
  if (v.domain === undefined) {
    // A number compared with a categorical value: its index where the domain holds that number.
    const numbers = domain.map((d) => Number(d));
    const { g } = ctx;
    let out = g.where(g.isNaN(v.t), g.scalar(NaN), g.scalar(-1));
    numbers.forEach((n, i) => {
      if (!Number.isNaN(n)) out = g.where(g.op('Equal', [v.t, g.scalar(n)]), g.scalar(i), out);
    });
    return out;
  }
  if (v.domain === domain) return v.t;
  return lookup(ctx, v, v.domain.map((d) => domainIndex(domain, d, dataType)), -1);
}

/** A constant as a value: numbers as numbers, anything else as a one-value domain. */
export function constantVal(ctx: Context, value: string | undefined, dataType: string | undefined): Val {
  if (value === undefined) return { t: filled(ctx, NaN), dataType: dataType ?? 'double', optype: 'continuous' };
  const type = dataType ?? (value.trim() !== '' && !Number.isNaN(Number(value)) ? 'double' : value === 'true' || value === 'false' ? 'boolean' : 'string');
  if (type === 'boolean') return { t: filled(ctx, value === 'true' || value === '1' ? 1 : 0), dataType: type, optype: 'categorical', constant: value };
  if (isNumericType(type)) {
    const n = parseNumber(value, `the constant "${value}"`);
    return { t: filled(ctx, type === 'float' ? Math.fround(n) : n), dataType: type, optype: 'continuous', constant: value };
  }
  return { t: filled(ctx, 0), domain: [value], dataType: type, optype: 'categorical', constant: value };
}

/** A literal of a field's type, as the number its tensor holds (categorical: its index, -1 if not in the domain). */
export function literalFor(v: Val, value: string, what: string): number {
  if (v.domain !== undefined) return domainIndex(v.domain, value, v.dataType);
  if (v.dataType === 'boolean') {
    if (value === 'true' || value === '1') return 1;
    if (value === 'false' || value === '0') return 0;
    throw new PmmlError(`${what} is "${value}", not a boolean`);
  }
  const n = parseNumber(value, what);
  return v.dataType === 'float' ? Math.fround(n) : v.dataType === 'integer' ? n : n;
}

/** PMML float fields hold float32 values: round a double tensor to float32 and back. */
export function roundToFloat(ctx: Context, t: string): string {
  const { g } = ctx;
  return g.toDouble(g.op('Cast', [t], { to: 1 }));
}

/** The value of a DataField as a top-level input: the column of `features`, with the field's validity and the model's MiningField treatment applied. */
export function inputVal(ctx: Context, field: DataFieldDef, column: number, mining: MiningFieldDef): Val {
  const { g } = ctx;
  // float fields: the whole input rounded to float32 once, then the column.
  const matrix = field.dataType === 'float' ? g.memo('input as float32', () => roundToFloat(ctx, g.input)) : g.input;
  let t = g.column(matrix, column);
  const domain = field.isCategorical ? [...field.validValues, ...field.invalidValues, ...field.missingValues] : undefined;
  // Missing: NaN, or a value the DataDictionary declares as meaning missing.
  const nan = g.isNaN(t);
  let missing = nan;
  if (domain !== undefined && field.missingValues.length > 0) {
    missing = g.op('Or', [missing, g.op('GreaterOrEqual', [t, g.scalar(field.validValues.length + field.invalidValues.length)])]);
  } else if (domain === undefined) {
    for (const m of field.missingValues) missing = g.op('Or', [missing, g.op('Equal', [t, g.scalar(parseNumber(m, `missing value of "${field.name}"`))])]);
  }
  // Invalid: outside the declared values or intervals, or declared invalid.
  let invalid: string | undefined;
  if (domain !== undefined) {
    const open = field.validValues.length === 0;
    const below = g.op('Less', [t, g.scalar(0)]);
    const declaredInvalid = field.invalidValues.length > 0 ? g.op('And', [g.op('GreaterOrEqual', [t, g.scalar(field.validValues.length)]), g.op('Less', [t, g.scalar(field.validValues.length + field.invalidValues.length)])]) : undefined;
    invalid = open ? declaredInvalid : declaredInvalid === undefined ? below : g.op('Or', [below, declaredInvalid]);
  } else if (field.dataType !== 'boolean') {
    const parts: string[] = [];
    if (field.intervals.length > 0 || field.validValues.length > 0) {
      let valid: string | undefined;
      for (const iv of field.intervals) {
        const l = g.op(iv.closure.startsWith('closed') ? 'GreaterOrEqual' : 'Greater', [t, g.scalar(iv.left)]);
        const r = g.op(iv.closure.endsWith('Closed') ? 'LessOrEqual' : 'Less', [t, g.scalar(iv.right)]);
        const inside = g.op('And', [l, r]);
        valid = valid === undefined ? inside : g.op('Or', [valid, inside]);
      }
      for (const v of field.validValues) {
        const eq = g.op('Equal', [t, g.scalar(parseNumber(v, `valid value of "${field.name}"`))]);
        valid = valid === undefined ? eq : g.op('Or', [valid, eq]);
      }
      parts.push(g.not(valid!));
    }
    for (const v of field.invalidValues) parts.push(g.op('Equal', [t, g.scalar(parseNumber(v, `invalid value of "${field.name}"`))]));
    if (field.dataType === 'integer') parts.push(g.op('Not', [g.op('Equal', [g.op('Floor', [t]), t])]));
    invalid = parts.reduce<string | undefined>((acc, p) => (acc === undefined ? p : g.op('Or', [acc, p])), undefined);
  } else {
    invalid = g.not(g.op('Or', [g.op('Equal', [t, g.scalar(0)]), g.op('Equal', [t, g.scalar(1)])]));
  }
  if (invalid !== undefined) {
    invalid = g.op('And', [invalid, g.not(missing)]);
    switch (mining.invalidValueTreatment) {
      case 'returnInvalid':
        ctx.invalidMasks.push(invalid);
        break;
      case 'asMissing':
        missing = g.op('Or', [missing, invalid]);
        break;
      case 'asValue': {
        const replacement = literalFor({ t, domain, dataType: field.dataType, optype: field.optype }, mining.invalidValueReplacement!, `invalidValueReplacement of "${field.name}"`);
        t = g.where(invalid, g.scalar(replacement), t);
        break;
      }
      case 'asIs':
        break;
    }
  }
  const base: Val = { t, ...(domain !== undefined ? { domain } : {}), dataType: field.dataType, optype: mining.optype ?? field.optype };
  const treated = treatMissingAndOutliers(ctx, base, mining, missing === nan ? undefined : missing);
  // Nothing changed the column: say so (a linear model then gathers its columns at once).
  return treated.t === g.column(matrix, column) ? { ...treated, source: { matrix, column } } : treated;
}

/** A MiningField's outlier treatment and missingValueReplacement, on a value (`missing`: its missing mask, if known beyond NaN). */
export function treatMissingAndOutliers(ctx: Context, v: Val, mining: MiningFieldDef, missingMask?: string): Val {
  const { g } = ctx;
  let t = v.t;
  let missing = missingMask;
  if (mining.outliers !== 'asIs' && v.domain === undefined) {
    const low = g.op('Less', [t, g.scalar(mining.lowValue!)]);
    const high = g.op('Greater', [t, g.scalar(mining.highValue!)]);
    if (mining.outliers === 'asMissingValues') missing = g.op('Or', [missing ?? g.isNaN(t), g.op('Or', [low, high])]);
    else t = g.where(low, g.scalar(mining.lowValue!), g.where(high, g.scalar(mining.highValue!), t));
  }
  if (mining.missingValueReplacement !== undefined) {
    const replacement = literalFor(v, mining.missingValueReplacement, `missingValueReplacement of "${mining.name}"`);
    t = g.where(missing ?? g.isNaN(t), g.scalar(replacement), t);
  } else if (missing !== undefined) {
    t = g.nanWhere(missing, t);
  }
  return { ...v, t };
}

/** A set of fields by name; lookups fall through to the parent, then to the TransformationDictionary. */
export class Scope {
  private readonly values = new Map<string, Val>();
  private readonly derived = new Map<string, Element>();
  private readonly resolving = new Set<string>();

  readonly ctx: Context;
  private readonly parent?: Scope;
  constructor(ctx: Context, parent?: Scope) {
    this.ctx = ctx;
    this.parent = parent;
  }

  set(name: string, v: Val): void {
    this.values.set(name, v);
  }

  /** LocalTransformations (or the TransformationDictionary, for the root scope): compiled when first referenced. */
  addDerived(container: Element | undefined): void {
    if (container === undefined) return;
    for (const e of childrenNamed(container, 'DerivedField')) this.derived.set(attr(e, 'name'), e);
  }

  has(name: string): boolean {
    return this.values.has(name) || this.derived.has(name) || (this.parent?.has(name) ?? this.ctx.globalDerived.has(name));
  }

  get(name: string): Val {
    const known = this.values.get(name);
    if (known !== undefined) return known;
    const derived = this.derived.get(name) ?? (this.parent === undefined ? this.ctx.globalDerived.get(name) : undefined);
    if (derived !== undefined) {
      if (this.resolving.has(name)) throw new PmmlError(`derived field "${name}" is defined in terms of itself`);
      this.resolving.add(name);
      const v = derivedField(this, derived);
      this.resolving.delete(name);
      this.values.set(name, v);
      return v;
    }
    if (this.parent !== undefined) return this.parent.get(name);
    throw new PmmlError(`field "${name}" is referenced but not defined (not in the MiningSchema, a DerivedField or an earlier OutputField)`);
  }
}

function derivedField(scope: Scope, e: Element): Val {
  const expression = e.children.find((c) => EXPRESSIONS.has(c.name));
  if (expression === undefined) throw new PmmlError(`<DerivedField name="${e.attrs.name}"> (line ${e.line}) has no expression`);
  const v = expressionVal(scope, expression);
  const dataType = readDataType(e, v.dataType);
  const optype = readOptype(e, v.optype);
  return castTo(scope.ctx, v, dataType, optype);
}

/** A value given the dataType and optype its DerivedField or OutputField declares. */
export function castTo(ctx: Context, v: Val, dataType: string, optype: Optype): Val {
  const { g } = ctx;
  if (v.domain !== undefined) {
    if (optype === 'continuous' || dataType === 'boolean') return { t: numeric(ctx, v), dataType, optype };
    return { ...v, dataType, optype };
  }
  let t = v.t;
  if (dataType === 'float') t = roundToFloat(ctx, t);
  // PMML's cast of a double to integer rounds half up (JPMML: Math.round semantics... toward nearest); we take floor(x + 0.5).
  if (dataType === 'integer' && v.dataType !== 'integer') t = g.op('Floor', [g.add(t, g.scalar(0.5))]);
  if (optype !== 'continuous' && dataType === 'string') {
    throw new PmmlError(`a number cannot become a string field here (cast of a numeric expression to string is not supported)`);
  }
  return { t, dataType, optype: dataType === 'boolean' ? 'categorical' : optype };
}

export const EXPRESSIONS = new Set(['Constant', 'FieldRef', 'NormContinuous', 'NormDiscrete', 'Discretize', 'MapValues', 'Apply', 'TextIndex', 'Aggregate', 'Lag']);

/** mapMissingTo: where the input is missing, this value. */
function mapMissing(ctx: Context, e: Element, inputMissing: string, v: Val): Val {
  const to = e.attrs.mapMissingTo;
  if (to === undefined) return v;
  const literal = v.domain !== undefined ? domainIndex(v.domain, to, v.dataType) : parseNumber(to, `mapMissingTo of <${e.name}> (line ${e.line})`);
  return { ...v, t: ctx.g.where(inputMissing, ctx.g.scalar(literal), v.t) };
}

export function expressionVal(scope: Scope, e: Element): Val {
  const { ctx } = scope;
  const { g } = ctx;
  switch (e.name) {
    case 'Constant':
      return constantVal(ctx, e.attrs.missing === 'true' ? undefined : e.text.trim(), e.attrs.dataType);
    case 'FieldRef': {
      const v = scope.get(attr(e, 'field'));
      return mapMissing(ctx, e, g.isNaN(v.t), v);
    }
    case 'NormContinuous':
      return normContinuous(scope, e);
    case 'NormDiscrete': {
      const v = scope.get(attr(e, 'field'));
      const literal = literalFor(v, attr(e, 'value'), `value of <NormDiscrete> (line ${e.line})`);
      const missing = g.isNaN(v.t);
      const out = g.nanWhere(missing, g.compare('Equal', v.t, g.scalar(literal)));
      return mapMissing(ctx, e, missing, { t: out, dataType: 'double', optype: 'continuous' });
    }
    case 'Discretize':
      return discretize(scope, e);
    case 'MapValues':
      return mapValues(scope, e);
    case 'Apply':
      return apply(scope, e);
    default:
      throw new PmmlError(`<${e.name}> (line ${e.line}) is not supported; the converter takes Constant, FieldRef, NormContinuous, NormDiscrete, Discretize, MapValues and Apply`);
  }
}

function normContinuous(scope: Scope, e: Element): Val {
  const { g } = scope.ctx;
  const v = scope.get(attr(e, 'field'));
  const x = numeric(scope.ctx, v);
  const points = childrenNamed(e, 'LinearNorm').map((p) => ({ o: numberAttr(p, 'orig'), n: numberAttr(p, 'norm') }));
  if (points.length < 2) throw new PmmlError(`<NormContinuous field="${e.attrs.field}"> (line ${e.line}) needs at least two LinearNorm points`);
  for (let i = 1; i < points.length; i++) if (!(points[i].o > points[i - 1].o)) throw new PmmlError(`<NormContinuous field="${e.attrs.field}"> (line ${e.line}): LinearNorm orig values must increase`);
  const outliers = e.attrs.outliers ?? 'asIs';
  // Spec: y = a1 + (x - b1) / (b2 - b1) * (a2 - a1) between the two points around x; outside them,
  // asIs extends the first or last segment, asMissingValues gives missing, asExtremeValues the end value.
  const segment = (i: number): string => {
    const a = points[i];
    const b = points[i + 1];
    return g.add(g.scalar(a.n), g.mul(g.div(g.sub(x, g.scalar(a.o)), g.scalar(b.o - a.o)), g.scalar(b.n - a.n)));
  };
  const last = points.length - 1;
  let out = segment(last - 1);
  for (let i = last - 2; i >= 0; i--) out = g.where(g.op('LessOrEqual', [x, g.scalar(points[i + 1].o)]), segment(i), out);
  const below = g.op('Less', [x, g.scalar(points[0].o)]);
  const above = g.op('Greater', [x, g.scalar(points[last].o)]);
  if (outliers === 'asMissingValues') out = g.nanWhere(g.op('Or', [below, above]), out);
  else if (outliers === 'asExtremeValues') out = g.where(below, g.scalar(points[0].n), g.where(above, g.scalar(points[last].n), out));
  else if (outliers === 'asIs') out = g.where(below, segment(0), out);
  else throw new PmmlError(`<NormContinuous> (line ${e.line}) has outliers "${outliers}"; PMML knows asIs, asMissingValues and asExtremeValues`);
  return mapMissing(scope.ctx, e, g.isNaN(x), { t: g.nanWhere(g.isNaN(x), out), dataType: 'double', optype: 'continuous' });
}

/** An output of bins, map values or function results: numbers when the declared type is numeric, else a domain of the distinct strings. */
function outputOf(ctx: Context, dataType: string, values: readonly (string | undefined)[]): { domain?: string[]; code: (v: string | undefined) => number } {
  if (isNumericType(dataType) || dataType === 'boolean') {
    return { code: (v) => (v === undefined ? NaN : dataType === 'boolean' ? (v === 'true' || v === '1' ? 1 : 0) : dataType === 'float' ? Math.fround(parseNumber(v, 'a value')) : parseNumber(v, 'a value')) };
  }
  const domain = [...new Set(values.filter((v): v is string => v !== undefined))];
  return { domain, code: (v) => (v === undefined ? NaN : domain.indexOf(v)) };
}

function discretize(scope: Scope, e: Element): Val {
  const { ctx } = scope;
  const { g } = ctx;
  const v = scope.get(attr(e, 'field'));
  const x = numeric(ctx, v);
  const bins = childrenNamed(e, 'DiscretizeBin').map((b) => ({ value: attr(b, 'binValue'), interval: readInterval(child(b, 'Interval') ?? b) }));
  const dataType = e.attrs.dataType ?? 'string';
  const out = outputOf(ctx, dataType, [...bins.map((b) => b.value), e.attrs.defaultValue, e.attrs.mapMissingTo]);
  let t = g.scalar(out.code(e.attrs.defaultValue));
  for (let i = bins.length - 1; i >= 0; i--) {
    const { closure, left, right } = bins[i].interval;
    const l = g.op(closure.startsWith('closed') ? 'GreaterOrEqual' : 'Greater', [x, g.scalar(left)]);
    const r = g.op(closure.endsWith('Closed') ? 'LessOrEqual' : 'Less', [x, g.scalar(right)]);
    t = g.where(g.op('And', [l, r]), g.scalar(out.code(bins[i].value)), t);
  }
  const missing = g.isNaN(x);
  t = g.where(missing, g.scalar(out.code(e.attrs.mapMissingTo)), t);
  return { t, ...(out.domain !== undefined ? { domain: out.domain } : {}), dataType, optype: out.domain !== undefined ? 'categorical' : 'continuous' };
}

function mapValues(scope: Scope, e: Element): Val {
  const { ctx } = scope;
  const { g } = ctx;
  const pairs = childrenNamed(e, 'FieldColumnPair').map((p) => ({ v: scope.get(attr(p, 'field')), column: attr(p, 'column') }));
  const table = child(e, 'InlineTable');
  if (table === undefined) throw new PmmlError(`<MapValues> (line ${e.line}) has no <InlineTable> (a TableLocator, which names an outside table, is not supported)`);
  const outputColumn = attr(e, 'outputColumn');
  const rows = childrenNamed(table, 'row').map((row) => Object.fromEntries(row.children.map((c) => [c.name, c.text])));
  const dataType = e.attrs.dataType ?? 'string';
  const out = outputOf(ctx, dataType, [...rows.map((r) => r[outputColumn]), e.attrs.defaultValue, e.attrs.mapMissingTo]);
  let t = g.scalar(out.code(e.attrs.defaultValue));
  for (let i = rows.length - 1; i >= 0; i--) {
    let match: string | undefined;
    for (const { v, column } of pairs) {
      const cell = rows[i][column];
      if (cell === undefined) throw new PmmlError(`a row of <MapValues> (line ${e.line}) has no "${column}" column`);
      const eq = g.op('Equal', [v.t, g.scalar(literalFor(v, cell, `a "${column}" cell of <MapValues> (line ${e.line})`))]);
      match = match === undefined ? eq : g.op('And', [match, eq]);
    }
    t = g.where(match!, g.scalar(out.code(rows[i][outputColumn])), t);
  }
  let missing: string | undefined;
  for (const { v } of pairs) missing = missing === undefined ? g.isNaN(v.t) : g.op('Or', [missing, g.isNaN(v.t)]);
  t = g.where(missing!, g.scalar(out.code(e.attrs.mapMissingTo)), t);
  return { t, ...(out.domain !== undefined ? { domain: out.domain } : {}), dataType, optype: out.domain !== undefined ? 'categorical' : 'continuous' };
}

const ARITHMETIC: Record<string, 'Add' | 'Sub' | 'Mul' | 'Div'> = { '+': 'Add', '-': 'Sub', '*': 'Mul', '/': 'Div' };
const COMPARISON: Record<string, string> = { equal: 'Equal', notEqual: 'Equal', lessThan: 'Less', lessOrEqual: 'LessOrEqual', greaterThan: 'Greater', greaterOrEqual: 'GreaterOrEqual' };
const UNARY: Record<string, string> = { ln: 'Log', exp: 'Exp', sqrt: 'Sqrt', abs: 'Abs', floor: 'Floor', ceil: 'Ceil' };
export const APPLY_FUNCTIONS = ['+', '-', '*', '/', 'min', 'max', 'sum', 'avg', 'product', 'log10', 'ln', 'exp', 'sqrt', 'abs', 'pow', 'threshold', 'floor', 'ceil', 'round', 'equal', 'notEqual', 'lessThan', 'lessOrEqual', 'greaterThan', 'greaterOrEqual', 'and', 'or', 'not', 'isIn', 'isNotIn', 'if', 'isMissing', 'isNotMissing'];

function apply(scope: Scope, e: Element): Val {
  const { ctx } = scope;
  const { g } = ctx;
  const fn = attr(e, 'function');
  const args = e.children.filter((c) => EXPRESSIONS.has(c.name));
  const arity = (n: number | [number, number]): void => {
    const [lo, hi] = typeof n === 'number' ? [n, n] : n;
    if (args.length < lo || args.length > hi) throw new PmmlError(`<Apply function="${fn}"> (line ${e.line}) has ${args.length} arguments; it takes ${lo === hi ? lo : `${lo} to ${hi}`}`);
  };
  const num = (v: Val): string => numeric(ctx, v);
  const vals = (): Val[] => args.map((a) => expressionVal(scope, a));
  const anyMissing = (ts: string[]): string => ts.map((t) => g.isNaN(t)).reduce((a, b) => g.op('Or', [a, b]));
  const numberVal = (t: string): Val => ({ t, dataType: 'double', optype: 'continuous' });
  const boolVal = (t: string): Val => ({ t, dataType: 'boolean', optype: 'categorical' });
  let result: Val;
  const isDefault = e.attrs.defaultValue;
  if (fn in ARITHMETIC) {
    arity(2);
    const [a, b] = vals().map(num);
    result = numberVal(g.op(ARITHMETIC[fn], [a, b]));
  } else if (fn in UNARY) {
    arity(1);
    result = numberVal(g.op(UNARY[fn], [num(vals()[0])]));
  } else if (fn === 'log10') {
    arity(1);
    result = numberVal(g.div(g.log(num(vals()[0])), g.scalar(Math.LN10)));
    ctx.inexact.push('log10 is computed as ln(x)/ln(10), which can differ from Java\'s Math.log10 in the last bit');
  } else if (fn === 'round') {
    arity(1);
    // Java's Math.round: floor(x + 0.5) (half up), not ONNX Round's half-to-even.
    result = numberVal(g.op('Floor', [g.add(num(vals()[0]), g.scalar(0.5))]));
  } else if (fn === 'pow') {
    arity(2);
    const [a, b] = vals().map(num);
    result = numberVal(g.op('Pow', [a, b]));
  } else if (fn === 'threshold') {
    arity(2);
    const [a, b] = vals().map(num);
    result = numberVal(g.nanWhere(g.op('Or', [g.isNaN(a), g.isNaN(b)]), g.compare('Greater', a, b)));
  } else if (fn === 'min' || fn === 'max' || fn === 'sum' || fn === 'avg' || fn === 'product') {
    if (args.length === 0) throw new PmmlError(`<Apply function="${fn}"> (line ${e.line}) has no arguments`);
    const ts = vals().map(num);
    if (fn === 'min' || fn === 'max') result = numberVal(g.op(fn === 'min' ? 'Min' : 'Max', ts));
    else if (fn === 'sum') result = numberVal(ts.length === 1 ? ts[0] : g.op('Sum', ts));
    else if (fn === 'product') result = numberVal(ts.reduce((a, b) => g.mul(a, b)));
    else result = numberVal(g.div(ts.length === 1 ? ts[0] : g.op('Sum', ts), g.scalar(ts.length)));
    // Missing arguments make the result missing (ONNX Min/Max skip NaN in some versions: made explicit).
    result = numberVal(g.nanWhere(anyMissing(ts), result.t));
  } else if (fn in COMPARISON) {
    arity(2);
    const [a, b] = vals();
    const [x, y] = comparable(ctx, a, b);
    let t = g.toDouble(g.op(COMPARISON[fn], [x, y]));
    if (fn === 'notEqual') t = g.complement(t);
    result = boolVal(g.nanWhere(g.op('Or', [g.isNaN(x), g.isNaN(y)]), t));
  } else if (fn === 'and' || fn === 'or') {
    if (args.length < 2) throw new PmmlError(`<Apply function="${fn}"> (line ${e.line}) needs at least two arguments`);
    // Three-valued: false and missing is false, true or missing is true; otherwise a missing argument makes it missing.
    const ts = vals().map(num);
    const decisive = fn === 'and' ? 0 : 1;
    const decided = ts.map((t) => g.op('Equal', [t, g.scalar(decisive)])).reduce((a, b) => g.op('Or', [a, b]));
    result = boolVal(g.where(decided, g.scalar(decisive), g.where(anyMissing(ts), g.scalar(NaN), g.scalar(1 - decisive))));
  } else if (fn === 'not') {
    arity(1);
    result = boolVal(g.complement(num(vals()[0])));
  } else if (fn === 'isMissing' || fn === 'isNotMissing') {
    arity(1);
    const missing = g.toDouble(g.isNaN(vals()[0].t));
    result = boolVal(fn === 'isMissing' ? missing : g.complement(missing));
  } else if (fn === 'isIn' || fn === 'isNotIn') {
    if (args.length < 2) throw new PmmlError(`<Apply function="${fn}"> (line ${e.line}) needs a value and at least one candidate`);
    const [a, ...rest] = vals();
    let hit: string | undefined;
    for (const b of rest) {
      const [x, y] = comparable(ctx, a, b);
      const eq = g.op('Equal', [x, y]);
      hit = hit === undefined ? eq : g.op('Or', [hit, eq]);
    }
    // A missing value is in no set (isIn false, isNotIn true), as JPMML-Evaluator answers.
    let t = g.toDouble(hit!);
    if (fn === 'isNotIn') t = g.complement(t);
    result = boolVal(t);
  } else if (fn === 'if') {
    arity([2, 3]);
    const [cond, then, otherwise] = vals();
    const c = num(cond);
    const elseVal = otherwise ?? { ...then, t: g.add(then.t, g.scalar(NaN)) };
    let a = then;
    let b = elseVal;
    if (a.domain !== undefined || b.domain !== undefined) {
      const domain = [...new Set([...(a.domain ?? []), ...(b.domain ?? [])])];
      a = { ...a, t: recode(ctx, a, domain, a.dataType), domain };
      b = { ...b, t: recode(ctx, b, domain, b.dataType), domain };
    }
    const t = g.nanWhere(g.isNaN(c), g.where(g.op('Equal', [c, g.scalar(1)]), a.t, b.t));
    result = { ...a, t };
  } else {
    throw new PmmlError(`<Apply function="${fn}"> (line ${e.line}) is not supported; the converter takes ${APPLY_FUNCTIONS.join(', ')}`);
  }
  if (isDefault !== undefined) {
    const d = result.domain !== undefined ? domainIndex(result.domain, isDefault, result.dataType) : parseNumber(isDefault, `defaultValue of <Apply> (line ${e.line})`);
    result = { ...result, t: g.where(g.isNaN(result.t), g.scalar(d), result.t) };
  }
  if (e.attrs.mapMissingTo !== undefined) {
    // mapMissingTo applies when an argument is missing (PMML 4.4, Apply).
    const argsMissing = anyMissing(args.map((a) => expressionVal(scope, a).t));
    result = mapMissing(ctx, e, argsMissing, result);
  }
  return result;
}

/** Two values as tensors comparable with ONNX's Equal/Less: a categorical one with the other in its domain. */
export function comparable(ctx: Context, a: Val, b: Val): [string, string] {
  if (a.domain === undefined && b.domain === undefined) return [a.t, b.t];
  if (a.domain !== undefined && b.domain !== undefined && a.domain === b.domain) return [a.t, b.t];
  if (a.domain !== undefined) {
    if (b.constant !== undefined) return [a.t, ctx.g.scalar(domainIndex(a.domain, b.constant, a.dataType))];
    return [a.t, recode(ctx, b, a.domain, a.dataType)];
  }
  const [y, x] = comparable(ctx, b, a);
  return [x, y];
}

/** Numbers in an Array element, or indices of its values in a categorical value's domain. */
export function arrayLiterals(v: Val, e: Element): number[] {
  return arrayTokens(e).map((token) => literalFor(v, token, `a value in <Array> (line ${e.line})`));
}
