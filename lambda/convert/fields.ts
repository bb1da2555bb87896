/**
 * Checked access to a parsed model's fields: each getter names the field path and what was found, so a
 * corrupt or foreign file is refused with a message that says where, never with a TypeError.
 */
import { ConversionError } from './errors.ts';

export class Fields {
  readonly file: string;
  constructor(file: string) {
    this.file = file;
  }

  fail(path: string, problem: string): never {
    throw new ConversionError(this.file, path === '' ? problem : `${path}: ${problem}`);
  }

  object(v: unknown, path: string): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, `expected an object, found ${kind(v)}`);
    return v as Record<string, unknown>;
  }

  array(v: unknown, path: string, length?: number): unknown[] {
    if (!Array.isArray(v)) this.fail(path, `expected an array, found ${kind(v)}`);
    if (length !== undefined && v.length !== length) this.fail(path, `expected ${length} values, found ${v.length}`);
    return v;
  }

  number(v: unknown, path: string, options: { nan?: boolean } = {}): number {
    // XGBoost's JSON writes numbers, or in some versions numeric strings ("5E-1").
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || (Number.isNaN(n) && !(options.nan === true && (v === 'NaN' || typeof v === 'number')))) this.fail(path, `expected a number, found ${kind(v)}`);
    return n as number;
  }

  int(v: unknown, path: string, min = -Infinity, max = Infinity): number {
    const n = this.number(v, path);
    if (!Number.isInteger(n) || n < min || n > max) this.fail(path, `expected an integer${min > -Infinity ? ` from ${min}` : ''}${max < Infinity ? ` to ${max}` : ''}, found ${n}`);
    return n;
  }

  string(v: unknown, path: string): string {
    if (typeof v !== 'string') this.fail(path, `expected a string, found ${kind(v)}`);
    return v;
  }

  /**
   * Refuses keys the converter does not know: a field a newer library version added may change what the
   * model predicts, so it is named rather than ignored.
   */
  known(o: Record<string, unknown>, path: string, keys: readonly string[], library: string): void {
    const unknown = Object.keys(o).filter((k) => !keys.includes(k));
    if (unknown.length > 0) this.fail(path, `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')} (not among the ${library} fields this converter knows: from a newer version?), so the model cannot be converted safely`);
  }

  numbers(v: unknown, path: string, length?: number, options: { nan?: boolean } = {}): number[] {
    return this.array(v, path, length).map((x, i) => this.number(typeof x === 'boolean' ? Number(x) : x, `${path}[${i}]`, options));
  }

  ints(v: unknown, path: string, length?: number, min = -Infinity, max = Infinity): number[] {
    return this.array(v, path, length).map((x, i) => this.int(typeof x === 'boolean' ? Number(x) : x, `${path}[${i}]`, min, max));
  }
}

function kind(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  return typeof v === 'object' ? 'an object' : String(v);
}
