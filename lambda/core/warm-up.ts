/**
 * One run of a loaded model before a SnapStart snapshot, so that onnxruntime's first-run work
 * (allocating its arenas, planning memory, any lazy kernel setup) happens then instead of in the
 * first request of every restored environment: on the first row of the version's golden inputs
 * when it has v2 ones (a real input takes the paths real requests take, a tree's deep branches
 * included), otherwise on a zero input of its shape.
 */
import type { Tensor } from 'onnxruntime-node';
import type { DatatypeInfo } from './datatypes.ts';
import { createOrtTensor } from './ort-tensor.ts';
import type { LoadedModel } from './sessions.ts';
import type { TensorSpec } from './signature.ts';
import { flattenData } from './tensor-values.ts';
import { decodeInferRequest } from './v2-request.ts';

/** Zeros of one element type: the typed array onnxruntime-node takes for it (strings: empty strings). */
function zeros(info: DatatypeInfo, count: number): Tensor.DataType {
  switch (info.ort) {
    case 'string': return new Array<string>(count).fill('');
    case 'bool': case 'uint8': return new Uint8Array(count);
    case 'int8': return new Int8Array(count);
    case 'uint16': case 'float16': return new Uint16Array(count);
    case 'int16': return new Int16Array(count);
    case 'uint32': return new Uint32Array(count);
    case 'int32': return new Int32Array(count);
    case 'uint64': return new BigUint64Array(count);
    case 'int64': return new BigInt64Array(count);
    case 'float64': return new Float64Array(count);
    default: return new Float32Array(count);
  }
}

/** The input's shape with each free dimension (batch, sequence length) set to 1. */
export const warmUpShape = (spec: TensorSpec): number[] => spec.shape.map((d) => (d < 0 ? 1 : d));

/** Zero feeds for every input of the model, one row each. */
export function zeroFeeds(model: LoadedModel): Record<string, Tensor> {
  return Object.fromEntries(
    model.signature.inputs.map((spec) => {
      const shape = warmUpShape(spec);
      return [spec.name, createOrtTensor(spec.datatype, zeros(spec.datatype, shape.reduce((a, b) => a * b, 1)), shape)];
    }),
  );
}

/**
 * The first row of each v2 input of a golden file (parsed golden.json) as the model's feeds, checked
 * as a request would be; undefined when the file has no v2 inputs (text and image goldens) or they do
 * not fit the model, so the caller falls back to zeros.
 */
export function goldenFeeds(model: LoadedModel, golden: unknown): Record<string, Tensor> | undefined {
  const inputs = (golden as { inputs?: unknown } | undefined)?.inputs;
  if (!Array.isArray(inputs) || inputs.length === 0) return undefined;
  try {
    const firstRows = inputs.map((input: { name: string; datatype: string; shape: number[]; data: unknown }) => {
      const rowSize = input.shape.slice(1).reduce((a, b) => a * b, 1);
      return { name: input.name, datatype: input.datatype, shape: [1, ...input.shape.slice(1)], data: flattenData(input.data, input.name).slice(0, rowSize) };
    });
    return decodeInferRequest({ inputs: firstRows }, model).feeds;
  } catch {
    return undefined;
  }
}

/** Runs the model once on the given feeds (zeros by default); resolves with the run's milliseconds. */
export async function warmUp(model: LoadedModel, feeds: Record<string, Tensor> = zeroFeeds(model)): Promise<number> {
  const started = performance.now();
  await model.session.run(feeds);
  return performance.now() - started;
}
