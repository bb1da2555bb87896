/**
 * One run of a loaded model on a zero input of its shape, so that onnxruntime's first-run work
 * (allocating its arenas, planning memory, any lazy kernel setup) happens before a SnapStart
 * snapshot instead of in the first request of every restored environment.
 */
import type { Tensor } from 'onnxruntime-node';
import type { DatatypeInfo } from './datatypes.ts';
import { createOrtTensor } from './ort-tensor.ts';
import type { LoadedModel } from './sessions.ts';
import type { TensorSpec } from './signature.ts';

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

/** Runs the model once on zero feeds; resolves with the run's milliseconds. */
export async function warmUp(model: LoadedModel): Promise<number> {
  const started = performance.now();
  await model.session.run(zeroFeeds(model));
  return performance.now() - started;
}
