/**
 * Reading request JSON. Native JSON.parse reads any nesting depth (it is iterative); what recurses
 * is a reviver and JSON.stringify, so neither ever runs on a request's text or values without a
 * guard.
 *
 * 64-bit integers: JSON.parse turns 9007199254740993 into ...992. Only INT64/UINT64 tensors need
 * exact integers, so only a request to a model with such an input whose text holds a run of 16 or
 * more digits is read again with the reviver below, which reads each number's source text (JSON.parse
 * source text access, Node 22+) and keeps integers past 2^53 as BigInt. Any other body is parsed once.
 */
import { badRequest, describeError } from './errors.ts';

const INTEGER = /^-?\d+$/;
/** The shortest decimal integer past 2^53 (9007199254740992) has 16 digits. */
const LONG_DIGIT_RUN = /\d{16}/;

export function preciseReviver(this: unknown, _key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value === 'number' && !Number.isSafeInteger(value) && context?.source !== undefined && INTEGER.test(context.source)) {
    return BigInt(context.source);
  }
  return value;
}

export interface ParseOptions {
  /** Keep integers past 2^53 exact (BigInt): the model takes INT64/UINT64 input. @default false */
  readonly exactIntegers?: boolean;
  /** What the route takes, added to the message when the body is empty or not JSON (a tensor model's inputs and an example body). */
  readonly expected?: () => string;
}

/** Parses a request body, answering 400 with the parser's own words when it is not JSON (and what is expected, when given). */
export function parseJsonBody(text: string, options: ParseOptions = {}): unknown {
  // Only an error message says what is expected: building it (an example body) costs a request more than its parse.
  const expected = () => (options.expected === undefined ? '' : `; ${options.expected()}`);
  if (text.trim() === '') throw badRequest(`request body is empty; expected a JSON object${expected()}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw badRequest(`request body is not valid JSON: ${describeError(error)}${expected()}`, 'invalid_json');
  }
  if (!options.exactIntegers || !LONG_DIGIT_RUN.test(text)) return value;
  try {
    return JSON.parse(text, preciseReviver as (key: string, value: unknown) => unknown);
  } catch (error) {
    if (error instanceof RangeError) throw nestedTooDeeply('request body');
    throw error;
  }
}

/** The deepest nesting of arrays and objects in request values the core accepts (tensor data, labels). */
export const MAX_NESTING = 32;

/** Whether a parsed value nests arrays or objects deeper than `max` (walked without recursion). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== 'object' || item === null) continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(item) ? item : Object.values(item)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}

/** 400 for a value nested deeper than the server's recursive steps can follow. */
export const nestedTooDeeply = (what: string) => badRequest(`${what} nests arrays or objects too deeply to read; a request needs no more than a few levels`, 'invalid_json');

/** JSON.stringify that writes BigInt values as exact integers. */
export function stringifyPrecise(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? JSON.rawJSON(v.toString()) : v));
}
