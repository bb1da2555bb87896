/**
 * PMML predicates (SimplePredicate, CompoundPredicate, SimpleSetPredicate, True, False) in PMML's
 * three-valued logic: every predicate is two 0/1 columns, T (true) and U (unknown: a missing input);
 * false is what is neither. Trees evaluate thousands of predicates, so simple and set predicates are
 * collected first and then evaluated a field and an operator at a time, as matrices.
 */
import { PmmlError } from './errors.ts';
import type { GraphBuilder } from './graph.ts';
import { arrayLiterals, domainIndex, numeric, type Context, type Scope, type Val } from './scope.ts';
import { attr, child, type Element } from './xml.ts';

export type PredicateRef =
  | { readonly kind: 'const'; readonly value: boolean }
  | { readonly kind: 'simple'; readonly group: string; readonly index: number }
  | { readonly kind: 'compound'; readonly op: 'and' | 'or' | 'xor' | 'surrogate'; readonly children: readonly PredicateRef[] };

const OPERATORS = new Set(['equal', 'notEqual', 'lessThan', 'lessOrEqual', 'greaterThan', 'greaterOrEqual', 'isMissing', 'isNotMissing']);
export const PREDICATES = new Set(['SimplePredicate', 'CompoundPredicate', 'SimpleSetPredicate', 'True', 'False']);

interface Group {
  readonly x: string;
  readonly op: string;
  /** Comparison literals, or for set predicates one row of member indices per predicate. */
  readonly values: number[];
  readonly sets: number[][];
  readonly domainSize: number;
}

/** The predicates of one model (or forest), collected, then evaluated together. */
export class PredicateTable {
  private readonly groups = new Map<string, Group>();
  private readonly ctx: Context;
  constructor(ctx: Context) {
    this.ctx = ctx;
  }

  /** The predicate element among a node's (or segment's) children. */
  static of(e: Element): Element {
    const p = e.children.find((c) => PREDICATES.has(c.name));
    if (p === undefined) throw new PmmlError(`<${e.name}> (line ${e.line}) has no predicate (True, False, SimplePredicate, CompoundPredicate or SimpleSetPredicate)`);
    return p;
  }

  add(scope: Scope, e: Element): PredicateRef {
    switch (e.name) {
      case 'True':
        return { kind: 'const', value: true };
      case 'False':
        return { kind: 'const', value: false };
      case 'SimplePredicate': {
        const v = scope.get(attr(e, 'field'));
        const op = attr(e, 'operator');
        if (!OPERATORS.has(op)) throw new PmmlError(`<SimplePredicate> (line ${e.line}) has operator "${op}"; PMML knows ${[...OPERATORS].join(', ')}`);
        if (op === 'isMissing' || op === 'isNotMissing') return this.push(v.t, op, 0, [], 0);
        const raw = attr(e, 'value');
        let x = v.t;
        let literal: number;
        if (v.domain !== undefined) {
          literal = domainIndex(v.domain, raw, v.dataType);
          if (op !== 'equal' && op !== 'notEqual' && v.optype !== 'ordinal') {
            // An order on a categorical field: compare as numbers where the values are numbers.
            x = numeric(this.ctx, v);
            literal = Number(raw);
            if (Number.isNaN(literal)) throw new PmmlError(`<SimplePredicate> (line ${e.line}) compares categorical field "${e.attrs.field}" with ${op}; only ordinal fields have an order`);
          }
        } else {
          literal = literalValue(v, raw, `value of <SimplePredicate field="${e.attrs.field}"> (line ${e.line})`);
        }
        return this.push(x, op, literal, [], 0);
      }
      case 'SimpleSetPredicate': {
        const v = scope.get(attr(e, 'field'));
        const op = attr(e, 'booleanOperator');
        if (op !== 'isIn' && op !== 'isNotIn') throw new PmmlError(`<SimpleSetPredicate> (line ${e.line}) has booleanOperator "${op}"; PMML knows isIn and isNotIn`);
        const array = child(e, 'Array');
        if (array === undefined) throw new PmmlError(`<SimpleSetPredicate> (line ${e.line}) has no <Array>`);
        const members = arrayLiterals(v, array);
        if (v.domain !== undefined) return this.push(v.t, op, 0, members, v.domain.length);
        // A set of numbers: one equality per member, or'ed.
        const eqs = members.map((m): PredicateRef => this.push(v.t, 'equal', m, [], 0));
        const any: PredicateRef = eqs.length === 0 ? { kind: 'const', value: false } : eqs.length === 1 ? eqs[0] : { kind: 'compound', op: 'or', children: eqs };
        return op === 'isIn' ? any : { kind: 'compound', op: 'xor', children: [any, { kind: 'const', value: true }] };
      }
      case 'CompoundPredicate': {
        const op = attr(e, 'booleanOperator');
        if (op !== 'and' && op !== 'or' && op !== 'xor' && op !== 'surrogate') throw new PmmlError(`<CompoundPredicate> (line ${e.line}) has booleanOperator "${op}"; PMML knows and, or, xor and surrogate`);
        const children = e.children.filter((c) => PREDICATES.has(c.name)).map((c) => this.add(scope, c));
        if (children.length < 2) throw new PmmlError(`<CompoundPredicate> (line ${e.line}) has ${children.length} predicate(s); it needs at least two`);
        return { kind: 'compound', op, children };
      }
      default:
        throw new PmmlError(`<${e.name}> (line ${e.line}) is not a predicate`);
    }
  }

  private push(x: string, op: string, literal: number, set: number[], domainSize: number): PredicateRef {
    const key = `${x}\u0000${op}\u0000${domainSize}`;
    let group = this.groups.get(key);
    if (group === undefined) {
      group = { x, op, values: [], sets: [], domainSize };
      this.groups.set(key, group);
    }
    const isSet = op === 'isIn' || op === 'isNotIn';
    if (isSet) group.sets.push(set);
    else group.values.push(literal);
    return { kind: 'simple', group: key, index: (isSet ? group.sets.length : group.values.length) - 1 };
  }

  /**
   * Evaluates the collected predicates and returns, for each ref asked for, its column in two
   * matrices T and U [N, refs.length].
   */
  evaluate(refs: readonly PredicateRef[]): { T: string; U: string } {
    const { g } = this.ctx;
    const offsets = new Map<string, number>();
    const tParts: string[] = [];
    const uParts: string[] = [];
    let width = 0;
    for (const [key, group] of this.groups) {
      const { T, U, n } = evaluateGroup(g, group);
      offsets.set(key, width);
      tParts.push(T);
      uParts.push(U);
      width += n;
    }
    // Constants: a column of ones (true) and of zeros (false, and "not unknown").
    const ones = g.op('Expand', [g.scalar(1), g.op('Concat', [g.op('Shape', [g.input], { start: 0, end: 1 }), g.int64([1])], { axis: 0 })]);
    const zeros = g.sub(ones, ones);
    const trueCol = width;
    const falseCol = width + 1;
    tParts.push(ones, zeros);
    uParts.push(zeros, zeros);
    width += 2;
    let T = g.concat(tParts);
    let U = g.concat(uParts);
    const compoundCols = new Map<PredicateRef, number>();
    const columnOf = (ref: PredicateRef): number => {
      if (ref.kind === 'const') return ref.value ? trueCol : falseCol;
      if (ref.kind === 'simple') return offsets.get(ref.group)! + ref.index;
      const known = compoundCols.get(ref);
      if (known !== undefined) return known;
      const cols = ref.children.map(columnOf);
      const { t, u } = combine(g, ref.op, g.gather(T, cols), g.gather(U, cols), cols.length);
      T = g.concat([T, t]);
      U = g.concat([U, u]);
      compoundCols.set(ref, width);
      width += 1;
      return width - 1;
    };
    const cols = refs.map(columnOf);
    return { T: g.gather(T, cols), U: g.gather(U, cols) };
  }
}

function literalValue(v: Val, raw: string, what: string): number {
  if (v.dataType === 'boolean') {
    if (raw === 'true' || raw === '1') return 1;
    if (raw === 'false' || raw === '0') return 0;
    throw new PmmlError(`${what} is "${raw}", not a boolean`);
  }
  const n = Number(raw.trim());
  if (raw.trim() === '' || Number.isNaN(n)) throw new PmmlError(`${what} is "${raw}", not a number`);
  return v.dataType === 'float' ? Math.fround(n) : n;
}

/** One field-and-operator group: T and U [N, k]. */
function evaluateGroup(g: GraphBuilder, group: Group): { T: string; U: string; n: number } {
  const missing = g.toDouble(g.isNaN(group.x));
  if (group.op === 'isMissing' || group.op === 'isNotMissing') {
    const n = group.values.length;
    const t = group.op === 'isMissing' ? missing : g.complement(missing);
    const T = g.op('Expand', [t, g.int64([1, n])]);
    return { T, U: g.sub(T, T), n };
  }
  const known = g.complement(missing);
  if (group.op === 'isIn' || group.op === 'isNotIn') {
    // Membership as a table lookup: row (index + 1) of a [domain + 1, sets] 0/1 table (row 0: a value outside the domain).
    const k = group.sets.length;
    const size = group.domainSize + 1;
    const table = new Float64Array(size * k);
    group.sets.forEach((members, j) => {
      for (const m of members) if (m >= 0) table[(m + 1) * k + j] = 1;
      if (group.op === 'isNotIn') for (let r = 0; r < size; r++) table[r * k + j] = 1 - table[r * k + j];
    });
    const safe = g.op('Cast', [g.where(g.isNaN(group.x), g.scalar(0), g.add(g.op('Max', [group.x, g.scalar(-1)]), g.scalar(1)))], { to: 7 });
    const rows = g.op('Gather', [g.constant(table, [size, k]), g.op('Squeeze', [safe, g.int64([1])])], { axis: 0 });
    const T = g.mul(rows, known);
    return { T, U: g.op('Expand', [missing, g.int64([1, k])]), n: k };
  }
  const values = g.constant(group.values, [1, group.values.length]);
  const n = group.values.length;
  const cmp = (op: 'Less' | 'LessOrEqual' | 'Greater' | 'GreaterOrEqual' | 'Equal'): string => g.compare(op, group.x, values);
  let t: string;
  switch (group.op) {
    case 'equal': t = cmp('Equal'); break;
    case 'notEqual': t = g.mul(g.complement(cmp('Equal')), known); break;
    case 'lessThan': t = cmp('Less'); break;
    case 'lessOrEqual': t = cmp('LessOrEqual'); break;
    case 'greaterThan': t = cmp('Greater'); break;
    case 'greaterOrEqual': t = cmp('GreaterOrEqual'); break;
    default: throw new PmmlError(`operator ${group.op} is not supported`);
  }
  return { T: t, U: g.op('Expand', [missing, g.int64([1, n])]), n };
}

/** A compound predicate from its children's T and U columns [N, k]: PMML's three-valued and, or, xor and surrogate. */
function combine(g: GraphBuilder, op: 'and' | 'or' | 'xor' | 'surrogate', T: string, U: string, k: number): { t: string; u: string } {
  const F = g.sub(g.complement(T), U);
  switch (op) {
    case 'and': {
      // False if any is false; else unknown if any is unknown; else true.
      const anyF = g.reduce('ReduceMax', F, [1]);
      const allT = g.reduce('ReduceMin', T, [1]);
      return { t: allT, u: g.sub(g.complement(anyF), allT) };
    }
    case 'or': {
      const anyT = g.reduce('ReduceMax', T, [1]);
      const allF = g.reduce('ReduceMin', F, [1]);
      return { t: anyT, u: g.sub(g.complement(anyT), allF) };
    }
    case 'xor': {
      const anyU = g.reduce('ReduceMax', U, [1]);
      const parity = g.op('Mod', [g.reduce('ReduceSum', T, [1]), g.scalar(2)], { fmod: 1 });
      return { t: g.mul(parity, g.complement(anyU)), u: anyU };
    }
    case 'surrogate': {
      // The first child that is not unknown decides.
      let t = g.column(T, k - 1);
      let u = g.column(U, k - 1);
      for (let i = k - 2; i >= 0; i--) {
        const ui = g.toBool(g.column(U, i));
        t = g.where(ui, t, g.column(T, i));
        u = g.where(ui, u, g.column(U, i));
      }
      return { t, u };
    }
  }
}

/** One predicate on its own (segments, scorecard attributes): T and U [N, 1]. */
export function evaluatePredicate(scope: Scope, e: Element): { T: string; U: string } {
  const table = new PredicateTable(scope.ctx);
  const ref = table.add(scope, e);
  return table.evaluate([ref]);
}
