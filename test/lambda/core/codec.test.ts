import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isInferenceError } from '../../../lambda/core/errors.ts';
import { parseJsonBody } from '../../../lambda/core/json.ts';
import { createTestService, FIXTURE_MODELS_DIR } from '../../helpers.ts';

const service = createTestService(FIXTURE_MODELS_DIR);

/** Sends a JSON text body (as a client would) through the identity model for a datatype. */
async function roundTrip(model: string, datatype: string, data: unknown[] | string, shape = [1, 2]): Promise<{ datatype: string; shape: number[]; data: unknown[] }> {
  const loaded = await service.loadModel(model);
  const body = typeof data === 'string' ? `{"inputs":[{"name":"x","datatype":"${datatype}","shape":${JSON.stringify(shape)},"data":${data}}]}` : JSON.stringify({ inputs: [{ name: 'x', datatype, shape, data }] });
  const response = parseJsonBody(await service.infer(loaded, body), { exactIntegers: true }) as { outputs: { datatype: string; shape: number[]; data: unknown[] }[] };
  return response.outputs[0];
}

async function rejection(model: string, body: unknown): Promise<string> {
  const loaded = await service.loadModel(model);
  try {
    await service.infer(loaded, body);
  } catch (error) {
    assert.ok(isInferenceError(error), `expected an InferenceError, got ${error}`);
    assert.equal(error.statusCode, 400);
    return error.message;
  }
  throw new Error('expected the request to be rejected');
}

describe('every datatype onnxruntime-node runs, through identity models', () => {
  const cases: [string, string, unknown[]][] = [
    ['identity_bool', 'BOOL', [true, false]],
    ['identity_uint8', 'UINT8', [0, 255]],
    ['identity_uint16', 'UINT16', [0, 65535]],
    ['identity_uint32', 'UINT32', [0, 4294967295]],
    ['identity_int8', 'INT8', [-128, 127]],
    ['identity_int16', 'INT16', [-32768, 32767]],
    ['identity_int32', 'INT32', [-2147483648, 2147483647]],
    ['identity_fp16', 'FP16', [1.5, -65504]],
    ['identity_fp32', 'FP32', [0.5, -3.25]],
    ['identity_fp64', 'FP64', [0.1, 1e300]],
    ['identity_bytes', 'BYTES', ['hello', 'wörld ✓']],
  ];
  for (const [model, datatype, data] of cases) {
    it(`returns ${datatype} values unchanged`, async () => {
      const output = await roundTrip(model, datatype, data);
      assert.equal(output.datatype, datatype);
      assert.deepEqual(output.shape, [1, 2]);
      assert.deepEqual(output.data, data);
    });
  }

  it('keeps INT64 values past 2^53 exact both ways', async () => {
    const output = await roundTrip('identity_int64', 'INT64', '[9007199254740993, -9223372036854775808]');
    assert.deepEqual(output.data, [9007199254740993n, -9223372036854775808n]);
  });

  it('keeps UINT64 values up to 2^64-1 exact both ways', async () => {
    const output = await roundTrip('identity_uint64', 'UINT64', '[18446744073709551615, 1]');
    assert.deepEqual(output.data, [18446744073709551615n, 1]);
  });

  it('accepts INT64 values written as strings of digits', async () => {
    const output = await roundTrip('identity_int64', 'INT64', ['9007199254740995', '-1']);
    assert.deepEqual(output.data, [9007199254740995n, -1]);
  });

  it('accepts nested data in row-major order', async () => {
    const output = await roundTrip('identity_fp32', 'FP32', [[1, 2], [3, 4]], [2, 2]);
    assert.deepEqual(output.data, [1, 2, 3, 4]);
  });

  it('carries NaN and infinities as strings', async () => {
    const output = await roundTrip('identity_fp32', 'FP32', ['NaN', '-Infinity']);
    assert.deepEqual(output.data, ['NaN', '-Infinity']);
  });

  it('accepts an empty batch', async () => {
    const output = await roundTrip('identity_fp32', 'FP32', [], [0, 2]);
    assert.deepEqual(output.shape, [0, 2]);
    assert.deepEqual(output.data, []);
  });
});

describe('bad input is rejected with 400 naming the input and what was expected', () => {
  const one = (input: Record<string, unknown>) => ({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2], ...input }] });

  it('rejects a body that is not an object', async () => {
    assert.match(await rejection('identity_fp32', [1, 2]), /request body must be a JSON object with an "inputs" list/);
  });
  it('rejects a body that is not JSON', async () => {
    assert.match(await rejection('identity_fp32', '{"inputs": [}'), /request body is not valid JSON: /);
  });
  it('rejects a request without inputs', async () => {
    assert.equal(await rejection('identity_fp32', {}), 'request has no "inputs" list');
  });
  it('rejects inputs that are not a list', async () => {
    assert.match(await rejection('identity_fp32', { inputs: { x: 1 } }), /"inputs" must be a list of tensors/);
  });
  it('rejects an unknown input, listing the expected ones', async () => {
    assert.equal(await rejection('add_two', { inputs: [{ name: 'c', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }), 'unknown input "c" for model "add_two"; it expects: a, b');
  });
  it('rejects a missing input by name', async () => {
    assert.equal(await rejection('add_two', { inputs: [{ name: 'a', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }), 'missing input "b" for model "add_two"; it expects: a, b');
  });
  it('rejects an input given twice', async () => {
    const a = { name: 'a', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] };
    assert.equal(await rejection('add_two', { inputs: [a, a] }), 'input "a" is given twice');
  });
  it('rejects a wrong datatype, naming both', async () => {
    assert.equal(await rejection('identity_fp32', one({ datatype: 'FP64' })), 'input "x" has datatype FP64 but model "identity_fp32" expects FP32');
  });
  it('rejects an unknown datatype, listing the known ones', async () => {
    assert.match(await rejection('identity_fp32', one({ datatype: 'FLOAT' })), /^input "x" has unknown datatype "FLOAT"; expected one of BOOL, UINT8, .*BYTES$/);
  });
  it('rejects a wrong rank', async () => {
    assert.equal(await rejection('identity_fp32', one({ shape: [2] })), 'input "x" has shape [2] (rank 1) but model "identity_fp32" expects rank 2: [-1,2]');
  });
  it('rejects a fixed dimension that differs, naming the input', async () => {
    assert.equal(await rejection('identity_fp32', one({ shape: [1, 3], data: [1, 2, 3] })), 'input "x" dimension 1 is 3 but model "identity_fp32" expects 2 (shape [-1,2])');
  });
  it('rejects a data length that is not the product of the shape', async () => {
    assert.equal(await rejection('identity_fp32', one({ shape: [2, 2] })), 'input "x" has 2 values but shape [2,2] needs 4');
  });
  it('rejects a negative dimension', async () => {
    assert.match(await rejection('identity_fp32', one({ shape: [-1, 2] })), /^input "x" shape \[-1,2\] is invalid: every dimension must be an integer >= 0, got -1$/);
  });
  it('rejects non-numeric values, naming the index', async () => {
    assert.equal(await rejection('identity_fp32', one({ data: [1, 'a'] })), 'input "x" value at index 1 is "a", not a number (FP32)');
  });
  it('rejects values out of range for the datatype', async () => {
    assert.equal(await rejection('identity_uint8', one({ datatype: 'UINT8', data: [1, 256] })), 'input "x" value at index 1 is 256, out of range for UINT8 (0..255)');
    assert.match(await rejection('identity_fp32', one({ data: [1, 1e39] })), /value at index 1 is 1e\+39, out of range for FP32/);
    assert.match(await rejection('identity_int64', `{"inputs":[{"name":"x","datatype":"INT64","shape":[1,2],"data":[1,9223372036854775808]}]}`), /value at index 1 is 9223372036854775808, out of range for INT64/);
  });
  it('rejects fractions for integer datatypes', async () => {
    assert.equal(await rejection('identity_int32', one({ datatype: 'INT32', data: [1, 1.5] })), 'input "x" value at index 1 is 1.5, not an integer (INT32)');
  });
  it('rejects numbers for BOOL and non-strings for BYTES', async () => {
    assert.equal(await rejection('identity_bool', one({ datatype: 'BOOL', data: [true, 1] })), 'input "x" value at index 1 is 1, not true or false (BOOL)');
    assert.equal(await rejection('identity_bytes', one({ datatype: 'BYTES', data: ['a', 2] })), 'input "x" value at index 1 is 2, not a string (BYTES)');
  });
  it('rejects data that is not a list', async () => {
    assert.equal(await rejection('identity_fp32', one({ data: 'abc' })), 'input "x" "data" must be a list, got "abc"');
  });
  it('rejects data nested without limit', async () => {
    let deep: unknown = [1];
    for (let i = 0; i < 40; i++) deep = [deep];
    assert.match(await rejection('identity_fp32', one({ data: [deep, 2] })), /nested deeper than 32 levels/);
  });
  it('rejects an unknown requested output', async () => {
    assert.equal(await rejection('identity_fp32', { ...one({}), outputs: [{ name: 'z' }] }), 'unknown output "z" for model "identity_fp32"; it has: y');
  });
  it('rejects a non-string id', async () => {
    assert.equal(await rejection('identity_fp32', { ...one({}), id: 7 }), '"id" must be a string, got 7');
  });
  it('rejects a shape whose product is huge without allocating it', async () => {
    assert.equal(await rejection('identity_fp32', one({ shape: [1e9, 2] })), 'input "x" has 2 values but shape [1000000000,2] needs 2000000000');
  });
});

describe('request id and outputs', () => {
  it('echoes the request id and returns only the outputs asked for', async () => {
    const model = await service.loadModel('identity_fp32');
    const response = JSON.parse(await service.infer(model, { id: 'req-42', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }], outputs: [{ name: 'y' }] }));
    assert.equal(response.id, 'req-42');
    assert.deepEqual(response.outputs.map((o: { name: string }) => o.name), ['y']);
  });
});
