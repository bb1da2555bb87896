/**
 * JSON that keeps 64-bit integers exact. JSON.parse turns 9007199254740993 into ...992; the reviver
 * below reads each number's source text (JSON.parse source text access, Node 22+) and keeps integers
 * past 2^53 as BigInt, so INT64/UINT64 inputs are never silently rounded.
 */
import { badRequest, describeError } from './errors.ts';

const INTEGER = /^-?\d+$/;

export function preciseReviver(this: unknown, _key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value === 'number' && !Number.isSafeInteger(value) && context?.source !== undefined && INTEGER.test(context.source)) {
    return BigInt(context.source);
  }
  return value;
}

/**
 * Parses a request body, answering 400 with the parser's own words when it is not JSON. Native
 * JSON.parse first; only when the result holds an integer past 2^53 (which it may have rounded) is
 * the text parsed again with the exact-integer reviver, which runs once per value and is many times
 * slower on large tensors.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw badRequest('request body is empty; expected a JSON object');
  try {
    const fast: unknown = JSON.parse(text);
    return holdsUnsafeInteger(fast) ? JSON.parse(text, preciseReviver as (key: string, value: unknown) => unknown) : fast;
  } catch (error) {
    throw badRequest(`request body is not valid JSON: ${describeError(error)}`, 'invalid_json');
  }
}

function holdsUnsafeInteger(value: unknown): boolean {
  if (typeof value === 'number') return Number.isInteger(value) && !Number.isSafeInteger(value);
  if (Array.isArray(value)) {
    for (const item of value) if (holdsUnsafeInteger(item)) return true;
    return false;
  }
  if (typeof value === 'object' && value !== null) {
    for (const item of Object.values(value)) if (holdsUnsafeInteger(item)) return true;
  }
  return false;
}

/** JSON.stringify that writes BigInt values as exact integers. */
export function stringifyPrecise(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? JSON.rawJSON(v.toString()) : v));
}
