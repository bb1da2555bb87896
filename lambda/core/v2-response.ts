/** Open Inference Protocol (v2) inference answers: outputs as exact JSON, or as raw bytes after a JSON header. */
import type { Tensor } from 'onnxruntime-node';
import { encodeTensorBytes } from './binary-extension.ts';
import type { LoadedModel } from './sessions.ts';
import { encodeTensorData } from './tensor-values.ts';

export interface EncodedAnswer {
  /** The JSON body, or the JSON header when outputs travel as binary. */
  readonly json: string;
  /** Raw bytes of the binary outputs, in order, after the JSON header. */
  readonly binary: readonly Buffer[];
}

/** The response body of an inference: model name and version, the request id, and the outputs asked for. */
export function encodeInferResponse(model: LoadedModel, id: string | undefined, outputNames: readonly string[], results: Record<string, Tensor>, binaryOutputs: ReadonlySet<string> = new Set()): EncodedAnswer {
  const binary: Buffer[] = [];
  const outputs = outputNames.map((name) => {
    const tensor = results[name];
    const spec = model.signature.outputs.find((s) => s.name === name)!;
    const head = `{"name":${JSON.stringify(name)},"datatype":"${spec.datatype.v2}","shape":[${tensor.dims.join(',')}]`;
    if (!binaryOutputs.has(name)) return `${head},"data":${encodeTensorData(tensor)}}`;
    const bytes = encodeTensorBytes(tensor);
    binary.push(bytes);
    return `${head},"parameters":{"binary_data_size":${bytes.length}}}`;
  });
  const idPart = id === undefined ? '' : `,"id":${JSON.stringify(id)}`;
  return { json: `{"model_name":${JSON.stringify(model.name)},"model_version":"${model.version}"${idPart},"outputs":[${outputs.join(',')}]}`, binary };
}
