/** A model's inputs and outputs as onnxruntime reports them, in Open Inference Protocol terms. */
import type { InferenceSession } from 'onnxruntime-node';
import { datatypeFromOrt, type DatatypeInfo } from './datatypes.ts';

export interface TensorSpec {
  readonly name: string;
  readonly datatype: DatatypeInfo;
  /** Dimensions; -1 where the model leaves one free (a symbolic name such as "batch"). */
  readonly shape: readonly number[];
  /** The symbolic names where the model gives one, by position. */
  readonly dimNames: readonly (string | undefined)[];
}

export interface Signature {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

export class UnsupportedSignatureError extends Error {}

function toSpec(meta: InferenceSession.ValueMetadata, role: string): TensorSpec {
  if (!meta.isTensor) throw new UnsupportedSignatureError(`${role} "${meta.name}" is not a tensor (sequences and maps are not served)`);
  const datatype = datatypeFromOrt(meta.type);
  if (datatype === undefined) throw new UnsupportedSignatureError(`${role} "${meta.name}" has element type ${meta.type}, which is not served`);
  const dims = meta.shape ?? [];
  return {
    name: meta.name,
    datatype,
    shape: dims.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)),
    dimNames: dims.map((d) => (typeof d === 'string' ? d : undefined)),
  };
}

export function readSignature(session: InferenceSession): Signature {
  return {
    inputs: session.inputMetadata.map((m) => toSpec(m, 'input')),
    outputs: session.outputMetadata.map((m) => toSpec(m, 'output')),
  };
}

export const formatShape = (shape: readonly number[]): string => `[${shape.join(',')}]`;

/** Whether a model takes 64-bit integer input, whose JSON values must be read exactly (past 2^53). */
export const takesExactIntegers = (signature: Signature): boolean => signature.inputs.some((s) => s.datatype.kind === 'bigint');
