/** Building onnxruntime tensors, with the one workaround the Node binding needs. */
import { Tensor } from 'onnxruntime-node';
import type { DatatypeInfo } from './datatypes.ts';

export function createOrtTensor(info: DatatypeInfo, data: Tensor.DataType, shape: readonly number[]): Tensor {
  const tensor = new Tensor(info.ort, data, shape);
  if (info.kind === 'half') {
    // onnxruntime-common turns float16 data into a Float16Array where the runtime has one (Node 24),
    // and the Node binding then sees zero bytes (onnxruntime #26791); hand it the raw bits back.
    (tensor as unknown as { cpuData: Uint16Array }).cpuData = data as Uint16Array;
  }
  return tensor;
}
