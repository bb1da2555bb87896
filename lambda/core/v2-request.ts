/**
 * Open Inference Protocol (v2) inference requests: the body checked against a model's signature,
 * and its inputs turned into onnxruntime feeds. Every check names the input and what was expected;
 * data goes straight into typed arrays (onnxruntime takes them without a copy).
 */
import type { Tensor } from 'onnxruntime-node';
import { decodeBinaryTensor } from './binary-extension.ts';
import { V2_DATATYPES } from './datatypes.ts';
import { badRequest, showValue } from './errors.ts';
import { createOrtTensor } from './ort-tensor.ts';
import type { LoadedModel } from './sessions.ts';
import { checkAgainstSpec } from './signature-policy.ts';
import { formatShape, type TensorSpec } from './signature.ts';
import { convertValues, flattenData } from './tensor-values.ts';
import { namedInputsToFeatures, namesFeatures } from './tasks/tabular.ts';

export interface DecodedRequest {
  readonly id: string | undefined;
  readonly feeds: Record<string, Tensor>;
  /** Outputs to return, in the order asked (all of the model's outputs when none are named). */
  readonly outputNames: string[];
  /** Outputs to return as raw bytes after the JSON (binary tensor extension). */
  readonly binaryOutputs: ReadonlySet<string>;
  /** First dimension of the first input, for metrics. */
  readonly batchSize: number;
}

export interface RequestInput {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly data: unknown;
  /** The input's raw little-endian bytes, when sent with the binary tensor extension. */
  readonly binary?: Uint8Array;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Checks a v2 inference request body against a model's signature and builds its feeds. With the
 * binary tensor extension, `binary` holds the bytes after the JSON header, and inputs with
 * parameters.binary_data_size take their data from it, in order.
 */
export function decodeInferRequest(body: unknown, model: LoadedModel, binary?: Uint8Array): DecodedRequest {
  if (!isObject(body)) throw badRequest('request body must be a JSON object with an "inputs" list');
  const { id, inputs, outputs, parameters } = body;
  if (id !== undefined && typeof id !== 'string') throw badRequest(`"id" must be a string, got ${showValue(id)}`);
  if (parameters !== undefined && !isObject(parameters)) throw badRequest('"parameters" must be a JSON object');
  if (inputs === undefined) throw badRequest('request has no "inputs" list');
  if (!Array.isArray(inputs)) throw badRequest(`"inputs" must be a list of tensors, got ${showValue(inputs)}`);
  const feeds: Record<string, Tensor> = {};
  let batchSize = 0;
  let offset = 0;
  const tabular = model.tabular;
  if (tabular !== undefined && namesFeatures(tabular, inputs.map((input: unknown, index: number) => checkRequestInput(input, index, true)))) {
    // A converted model's features, one input each: assembled into its one features matrix.
    const named = inputs.map((input: unknown, index: number) => {
      if (isObject(input) && isObject(input.parameters) && input.parameters.binary_data_size !== undefined) throw badRequest(`input "${String(input.name)}" is sent as binary data; a feature's input travels as JSON (binary data is taken for the "${tabular.input}" tensor)`);
      return checkRequestInput(input, index);
    });
    const matrix = namedInputsToFeatures(tabular, model.name, named);
    const maxBatch = model.config.maxBatchSize;
    if (maxBatch !== undefined && matrix.dims[0] > maxBatch) throw badRequest(`${matrix.dims[0]} rows in one request, over model "${model.name}"'s maxBatchSize of ${maxBatch}; split the request or use batch prediction`, 'batch_too_large');
    feeds[tabular.input] = matrix;
    batchSize = matrix.dims[0];
  } else inputs.forEach((input: unknown, index: number) => {
    const size = isObject(input) && isObject(input.parameters) ? input.parameters.binary_data_size : undefined;
    let checked = checkRequestInput(input, index, size !== undefined);
    if (size !== undefined) {
      if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) throw badRequest(`input "${checked.name}" parameters.binary_data_size must be an integer >= 0, got ${showValue(size)}`);
      if (binary === undefined) throw badRequest(`input "${checked.name}" declares binary_data_size but the request has no binary part (send the Inference-Header-Content-Length header)`);
      if (offset + size > binary.length) throw badRequest(`input "${checked.name}" declares ${size} binary bytes but only ${binary.length - offset} remain after the JSON header`);
      checked = { ...checked, binary: binary.subarray(offset, offset + size) };
      offset += size;
    } else if (checked.data === undefined) throw badRequest(`input "${checked.name}" has no "data"`);
    const spec = model.signature.inputs.find((s) => s.name === checked.name);
    if (spec === undefined) {
      throw badRequest(`unknown input "${checked.name}" for model "${model.name}"; it expects: ${model.signature.inputs.map((s) => s.name).join(', ')}`, 'input_mismatch');
    }
    if (feeds[checked.name] !== undefined) throw badRequest(`input "${checked.name}" is given twice`);
    // A converted model's features tensor takes FP32 or FP64 values as JSON, whatever its element type (XGBoost rounds to FP32 itself).
    if (tabular !== undefined && checked.binary === undefined && (checked.datatype === 'FP32' || checked.datatype === 'FP64')) checked = { ...checked, datatype: spec.datatype.v2 };
    feeds[checked.name] = decodeTensor(checked, spec, model);
    if (index === 0) batchSize = checked.shape[0] ?? 1;
  });
  for (const spec of model.signature.inputs) {
    if (feeds[spec.name] === undefined) {
      throw badRequest(`missing input "${spec.name}" for model "${model.name}"; it expects: ${model.signature.inputs.map((s) => s.name).join(', ')}`, 'input_mismatch');
    }
  }
  if (binary !== undefined && offset !== binary.length) {
    throw badRequest(`the binary part has ${binary.length} bytes but the inputs' binary_data_size add up to ${offset}`);
  }
  const outputNames = decodeRequestedOutputs(outputs, model);
  const allBinary = isObject(parameters) && parameters.binary_data_output === true;
  const binaryOutputs = new Set(
    outputNames.filter((name) => allBinary || (Array.isArray(outputs) && outputs.some((o: unknown) => isObject(o) && o.name === name && isObject(o.parameters) && o.parameters.binary_data === true))),
  );
  return { id, feeds, outputNames, binaryOutputs, batchSize };
}

function checkRequestInput(input: unknown, index: number, dataMayBeBinary = false): RequestInput {
  if (!isObject(input)) throw badRequest(`inputs[${index}] must be a JSON object with name, shape, datatype and data`);
  const { name, shape, datatype, data } = input;
  if (typeof name !== 'string' || name === '') throw badRequest(`inputs[${index}] has no "name"`);
  if (typeof datatype !== 'string') throw badRequest(`input "${name}" has no "datatype"; expected one of ${V2_DATATYPES.join(', ')}`);
  if (!Array.isArray(shape)) throw badRequest(`input "${name}" has no "shape" list`);
  for (const dim of shape) {
    if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 0) {
      throw badRequest(`input "${name}" shape ${showValue(shape)} is invalid: every dimension must be an integer >= 0, got ${showValue(dim)}`);
    }
  }
  if (data === undefined && !dataMayBeBinary) throw badRequest(`input "${name}" has no "data"`);
  return { name, shape: shape as number[], datatype, data };
}

function decodeRequestedOutputs(outputs: unknown, model: LoadedModel): string[] {
  const all = model.signature.outputs.map((s) => s.name);
  if (outputs === undefined) return all;
  if (!Array.isArray(outputs)) throw badRequest('"outputs" must be a list of {"name": ...} objects');
  const names = outputs.map((output: unknown, index: number) => {
    if (!isObject(output) || typeof output.name !== 'string') throw badRequest(`outputs[${index}] must be an object with a "name"`);
    if (!all.includes(output.name)) {
      throw badRequest(`unknown output "${output.name}" for model "${model.name}"; it has: ${all.join(', ')}`, 'input_mismatch');
    }
    return output.name;
  });
  return names.length > 0 ? [...new Set(names)] : all;
}

/** One input as an onnxruntime tensor: checked against its spec, then its values (JSON or binary) converted. */
export function decodeTensor(input: RequestInput, spec: TensorSpec, model: LoadedModel): Tensor {
  const { name, shape } = input;
  const info = checkAgainstSpec(name, input.datatype, shape, spec, model);
  const expectedCount = shape.reduce((a, b) => a * b, 1);
  let data: Tensor.DataType;
  if (input.binary !== undefined) data = decodeBinaryTensor(input.binary, info, expectedCount, name, shape);
  else {
    const values = flattenData(input.data, name);
    if (values.length !== expectedCount) {
      throw badRequest(`input "${name}" has ${values.length} values but shape ${formatShape(shape)} needs ${expectedCount}`, 'wrong_shape');
    }
    data = convertValues(values, info, name);
  }
  return createOrtTensor(info, data, shape);
}
