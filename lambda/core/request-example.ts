/**
 * What a tensor model takes, as words and as a body to copy: said when a request body is not the
 * JSON the route expects (a CSV line sent as text/plain, a half-written body), and used by the local
 * server's printed request. Zeros in the model's own shapes; a converted model by feature name.
 */
import type { LoadedModel } from './sessions.ts';

export interface ExampleTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}

/** A one-row v2 body of zeros (false, "") in the model's input names, datatypes and shapes; a converted model one input per feature. */
export function exampleTensors(model: Pick<LoadedModel, 'signature' | 'tabular'>): ExampleTensor[] {
  if (model.tabular !== undefined) {
    const { features, inputType } = model.tabular;
    return features.map((f) =>
      f.type === 'categorical' ? { name: f.name, datatype: 'BYTES', shape: [1], data: [f.categories?.[0] ?? ''] } : f.type === 'boolean' ? { name: f.name, datatype: 'BOOL', shape: [1], data: [false] } : { name: f.name, datatype: inputType, shape: [1], data: [0] },
    );
  }
  return model.signature.inputs.map((spec) => {
    const shape = spec.shape.map((d) => (d < 0 ? 1 : d));
    const size = shape.reduce((a, b) => a * b, 1);
    const zero = spec.datatype.kind === 'bool' ? false : spec.datatype.kind === 'string' ? '' : 0;
    return { name: spec.name, datatype: spec.datatype.v2, shape, data: new Array(size).fill(zero) };
  });
}

/** Flat row-major values as nested lists of `dims`. */
function nest(flat: readonly unknown[], dims: readonly number[]): unknown {
  if (dims.length <= 1) return flat;
  const step = flat.length / dims[0];
  return Array.from({ length: dims[0] }, (_, i) => nest(flat.slice(i * step, (i + 1) * step), dims.slice(1)));
}

/** Longest example quoted in an error message; past it the data is described, not listed. */
const MAX_EXAMPLE_CHARS = 400;

/** A body as the message quotes it: whole when short, else with each tensor's data abbreviated. */
function quote(body: unknown, abbreviated: () => unknown): string {
  const text = JSON.stringify(body);
  return text.length <= MAX_EXAMPLE_CHARS ? text : JSON.stringify(abbreviated());
}

/** What the route takes for this model, with an example body, for a message that follows "not valid JSON". */
export function whatTheModelTakes(model: Pick<LoadedModel, 'name' | 'signature' | 'tabular'>, route: 'infer' | 'predict'): string {
  const tensors = exampleTensors(model);
  if (route === 'predict') {
    const single = tensors.length === 1 && model.tabular === undefined ? tensors[0] : undefined;
    const row = single !== undefined ? nest(single.data, single.shape.slice(1)) : Object.fromEntries(tensors.map((t) => [t.name, t.data.length === 1 ? t.data[0] : nest(t.data, t.shape.slice(1))]));
    const width = single === undefined ? `an object of the inputs ${Object.keys(row as object).join(', ')}` : single.shape.length === 2 ? `${single.data.length} values` : `a nested list of shape ${JSON.stringify(single.shape.slice(1))}`;
    const example = quote({ instances: [row] }, () => ({ instances: [`<a row of ${width}>`] }));
    return `model "${model.name}" takes a JSON object {"instances": [row, ...]}, each row ${width}; for example ${example}`;
  }
  const inputs = model.signature.inputs.map((s) => `${s.name} ${s.datatype.v2} ${JSON.stringify(s.shape)}`).join(', ');
  const example = quote({ inputs: tensors }, () => ({ inputs: tensors.map((t) => ({ ...t, data: `<${t.data.length} values>` })) }));
  return `model "${model.name}" takes v2 JSON tensors (${model.tabular !== undefined ? 'one per feature, or ' : ''}inputs: ${inputs}); for example ${example}; a CSV file goes to batch prediction (modelship batch)`;
}
