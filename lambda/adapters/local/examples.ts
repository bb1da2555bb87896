/** Example requests for a model: the first row of its golden file when it has one, zeros otherwise. */
import type { InferenceService } from '../../core/inference-service.ts';
import type { LoadedModel } from '../../core/sessions.ts';

interface GoldenTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}

/** A one-row v2 inference request body for the model. */
export async function exampleRequest(service: InferenceService, model: LoadedModel): Promise<{ inputs: GoldenTensor[] }> {
  const bytes = await service.repository.source.readFile(`${model.name}/${model.version}/golden.json`).catch(() => undefined);
  if (bytes !== undefined) {
    const golden = JSON.parse(Buffer.from(bytes).toString('utf8')) as { inputs: GoldenTensor[] };
    return {
      inputs: golden.inputs.map((input) => {
        const rowSize = input.shape.slice(1).reduce((a, b) => a * b, 1);
        return { ...input, shape: [1, ...input.shape.slice(1)], data: input.data.slice(0, rowSize) };
      }),
    };
  }
  return {
    inputs: model.signature.inputs.map((spec) => {
      const shape = spec.shape.map((d) => (d < 0 ? 1 : d));
      const size = shape.reduce((a, b) => a * b, 1);
      const zero = spec.datatype.kind === 'bool' ? false : spec.datatype.kind === 'string' ? '' : 0;
      return { name: spec.name, datatype: spec.datatype.v2, shape, data: new Array(size).fill(zero) };
    }),
  };
}
