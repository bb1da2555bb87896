/**
 * Fuzzing the native-model converter (issue 24): mutated XGBoost JSON / UBJSON and LightGBM text files
 * (bytes flipped, cut, spliced; JSON values replaced at random paths; LightGBM fields rewritten) are
 * either converted into a model onnxruntime loads, or refused with a ConversionError that names the file
 * and the field; never another exception, a crash or a hang. Refusals must come from an explicit check,
 * not from the registry's catch-all. Seeded: FUZZ_SEED and FUZZ_RUNS change the run.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { ROOT } from '../helpers.ts';
import { convertNativeModel, ConversionError } from '../../lambda/convert/registry.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261206);
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const TREES = join(ROOT, 'test', 'fixtures', 'trees');
const read = (c: string, f: string) => new Uint8Array(readFileSync(join(TREES, c, f)));

const SOURCES: [string, string][] = [
  ['xgb3_binary_logistic_cat', 'model.json'],
  ['xgb3_reg_squarederror_ubj', 'model.ubj'],
  ['xgb17_dart', 'model.json'],
  ['lgb_binary_cat', 'model.txt'],
  ['lgb_linear_tree', 'model.txt'],
];

/** Converts; a success must load in onnxruntime; a failure must be a specific ConversionError. */
async function convertedOrRefused(file: string, bytes: Uint8Array): Promise<void> {
  let onnx: Uint8Array;
  try {
    onnx = convertNativeModel(file, bytes).onnx;
  } catch (error) {
    assert.ok(error instanceof ConversionError, `not a ConversionError: ${(error as Error).stack}`);
    assert.ok(error.message.startsWith(`${file}: `), error.message);
    assert.doesNotMatch(error.message, /could not be converted: /, 'refused by the catch-all, not by a check');
    return;
  }
  const session = await ort.InferenceSession.create(onnx);
  await session.release();
}

const byteMutation = (bytes: Uint8Array) =>
  fc.oneof(
    fc.record({ at: fc.nat(bytes.length - 1), value: fc.integer({ min: 0, max: 255 }) }).map(({ at, value }) => { const b = bytes.slice(); b[at] = value; return b; }),
    fc.nat(bytes.length - 1).map((n) => bytes.subarray(0, n)),
    fc.record({ at: fc.nat(bytes.length - 1), insert: fc.uint8Array({ maxLength: 16 }) }).map(({ at, insert }) => Uint8Array.from([...bytes.subarray(0, at), ...insert, ...bytes.subarray(at)])),
  );

const jsonValue = fc.oneof(
  fc.integer({ min: -3, max: 100 }), fc.double(), fc.boolean(), fc.constant(null), fc.string({ maxLength: 6 }), fc.constant([]), fc.constant({}),
  fc.array(fc.integer({ min: -2, max: 40 }), { maxLength: 8 }), fc.constantFrom('NaN', '1E400', '-1', '[5E-1,2]', 'multi:softmax', 'dart', 'gblinear'),
);

/** Every (parent, key) in a JSON document, so a mutation can reach any field. */
function slots(doc: unknown): [Record<string, unknown> | unknown[], string | number][] {
  const out: [Record<string, unknown> | unknown[], string | number][] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((x, i) => { out.push([v, i]); walk(x); });
    else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) { out.push([v as Record<string, unknown>, k]); walk(x); }
  };
  walk(doc);
  return out;
}

describe('converter fuzz: mutated model files are converted or refused by name, never crash or hang', () => {
  for (const [fixture, file] of SOURCES) {
    it(`${fixture}/${file}: byte mutations`, async () => {
      const bytes = read(fixture, file);
      await fc.assert(fc.asyncProperty(byteMutation(bytes), (mutated) => convertedOrRefused(file, mutated)), { seed: SEED, numRuns: RUNS });
    });
  }

  it('XGBoost JSON: a field anywhere replaced by another value', async () => {
    const text = new TextDecoder().decode(read('xgb3_binary_logistic_cat', 'model.json'));
    const count = slots(JSON.parse(text)).length;
    await fc.assert(
      fc.asyncProperty(fc.nat(count - 1), jsonValue, async (index, value) => {
        const doc = JSON.parse(text);
        const [parent, key] = slots(doc)[index];
        (parent as Record<string | number, unknown>)[key] = value;
        await convertedOrRefused('model.json', new TextEncoder().encode(JSON.stringify(doc)));
      }),
      { seed: SEED + 1, numRuns: RUNS },
    );
  });

  it('LightGBM text: a value of a line replaced', async () => {
    const lines = new TextDecoder().decode(read('lgb_binary_cat', 'model.txt')).split('\n');
    const valued = lines.flatMap((l, i) => (l.includes('=') ? [i] : []));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...valued), fc.oneof(fc.string({ maxLength: 12 }), fc.array(fc.integer({ min: -5, max: 40 }), { maxLength: 12 }).map((a) => a.join(' ')), fc.constantFrom('nan', 'inf', '-1', '1e999', '0 0 0')), async (line, value) => {
        const copy = lines.slice();
        copy[line] = `${copy[line].slice(0, copy[line].indexOf('=') + 1)}${value}`;
        await convertedOrRefused('model.txt', new TextEncoder().encode(copy.join('\n')));
      }),
      { seed: SEED + 2, numRuns: RUNS },
    );
  });
});
