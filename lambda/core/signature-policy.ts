/**
 * Whether a request's tensor fits what the model takes: its datatype, rank, fixed dimensions, and
 * the config's maxBatchSize. Every refusal names the input and what was expected.
 */
import { datatypeFromV2, V2_DATATYPES, type DatatypeInfo } from './datatypes.ts';
import { badRequest } from './errors.ts';
import type { LoadedModel } from './sessions.ts';
import { formatShape, type TensorSpec } from './signature.ts';

/** Checks an input's declared datatype and shape against its spec; answers the datatype's description. */
export function checkAgainstSpec(name: string, datatype: string, shape: readonly number[], spec: TensorSpec, model: LoadedModel): DatatypeInfo {
  const info = datatypeFromV2(datatype);
  if (info === undefined) {
    throw badRequest(`input "${name}" has unknown datatype "${datatype}"; expected one of ${V2_DATATYPES.join(', ')}`, 'wrong_datatype');
  }
  if (info.v2 !== spec.datatype.v2) {
    throw badRequest(`input "${name}" has datatype ${info.v2} but model "${model.name}" expects ${spec.datatype.v2}`, 'wrong_datatype');
  }
  if (spec.shape.length > 0 && shape.length !== spec.shape.length) {
    throw badRequest(`input "${name}" has shape ${formatShape(shape)} (rank ${shape.length}) but model "${model.name}" expects rank ${spec.shape.length}: ${formatShape(spec.shape)}`, 'wrong_shape');
  }
  spec.shape.forEach((expected, dim) => {
    if (expected >= 0 && shape[dim] !== expected) {
      throw badRequest(`input "${name}" dimension ${dim} is ${shape[dim]} but model "${model.name}" expects ${expected} (shape ${formatShape(spec.shape)})`, 'wrong_shape');
    }
  });
  const maxBatch = model.config.maxBatchSize;
  if (maxBatch !== undefined && spec.shape[0] === -1 && shape[0] > maxBatch) {
    throw badRequest(`input "${name}" batch size ${shape[0]} is over model "${model.name}"'s maxBatchSize ${maxBatch}; split the request or use batch prediction`, 'batch_too_large');
  }
  return info;
}
