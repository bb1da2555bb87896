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
 * Parses a request body, answering 400 with the parser's own words when it is not JSON. The
 * reviver (once per value, several times slower) runs only when the text holds a run of 16 or more
 * digits, the only way to write an integer past 2^53.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw badRequest('request body is empty; expected a JSON object');
  try {
    return /\d{16}/.test(text) ? JSON.parse(text, preciseReviver as (key: string, value: unknown) => unknown) : JSON.parse(text);
  } catch (error) {
    throw badRequest(`request body is not valid JSON: ${describeError(error)}`);
  }
}

/** JSON.stringify that writes BigInt values as exact integers. */
export function stringifyPrecise(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? JSON.rawJSON(v.toString()) : v));
}
