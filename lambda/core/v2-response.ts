/** Open Inference Protocol (v2) inference answers: outputs as exact JSON, or as raw bytes after a JSON header. */
import { Tensor } from 'onnxruntime-node';
import { encodeTensorBytes } from './binary-extension.ts';
import type { LoadedModel } from './sessions.ts';
import { classLabels } from './tasks/tabular.ts';
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
    const spec = model.signature.outputs.find((s) => s.name === name)!;
    const named = namedLabels(model, name, results[name]);
    const tensor = named ?? results[name];
    const head = `{"name":${JSON.stringify(name)},"datatype":"${named !== undefined ? 'BYTES' : spec.datatype.v2}","shape":[${tensor.dims.join(',')}]`;
    if (!binaryOutputs.has(name)) return `${head},"data":${encodeTensorData(tensor)}}`;
    const bytes = encodeTensorBytes(tensor);
    binary.push(bytes);
    return `${head},"parameters":{"binary_data_size":${bytes.length}}}`;
  });
  const idPart = id === undefined ? '' : `,"id":${JSON.stringify(id)}`;
  return { json: `{"model_name":${JSON.stringify(model.name)},"model_version":"${model.version}"${idPart},"outputs":[${outputs.join(',')}]}`, binary };
}

/** A converted classifier's label output as class names (BYTES) where its record or config.json names the classes. */
export function namedLabels(model: LoadedModel, output: string, tensor: Tensor): Tensor | undefined {
  const names = model.tabular === undefined ? undefined : classLabels(model);
  if (names === undefined || output !== (model.config.labelOutput ?? 'label') || (tensor.type !== 'int64' && tensor.type !== 'int32')) return undefined;
  return new Tensor('string', Array.from(tensor.data as ArrayLike<number | bigint>, (v) => names[Number(v)] ?? String(v)), tensor.dims);
}
