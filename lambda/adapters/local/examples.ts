/** Example requests for a model: the first row of its golden file when it has one, zeros otherwise. */
import type { InferenceService } from '../../core/inference-service.ts';
import type { LoadedModel } from '../../core/sessions.ts';
import { exampleTensors, type ExampleTensor } from '../../core/request-example.ts';

type GoldenTensor = ExampleTensor;

/**
 * A one-row request body for the model: v2 tensors, or for a task model its module's example (a
 * text one with a text from its golden file). Image models have no JSON example (send the image itself).
 */
export async function exampleRequest(service: InferenceService, model: LoadedModel): Promise<unknown> {
  const bytes = await service.repository.source.readFile(`${model.name}/${model.version}/golden.json`).catch(() => undefined);
  const parsed = bytes === undefined ? undefined : (JSON.parse(Buffer.from(bytes).toString('utf8')) as { inputs?: GoldenTensor[]; texts?: string[] });
  if (model.task !== undefined) {
    const example = model.task.module.example(model.task.loaded) as { inputs?: unknown } | undefined;
    // A golden text reads better than the module's placeholder.
    return typeof example?.inputs === 'string' && typeof parsed?.texts?.[0] === 'string' ? { ...example, inputs: parsed.texts[0] } : example;
  }
  // A converted model: one v2 input per feature, by name (a category by its name, as BYTES).
  if (model.tabular !== undefined) return { inputs: exampleTensors(model) };
  if (parsed !== undefined && Array.isArray(parsed.inputs)) {
    const golden = parsed as { inputs: GoldenTensor[] };
    return {
      inputs: golden.inputs.map((input) => {
        const rowSize = input.shape.slice(1).reduce((a, b) => a * b, 1);
        return { ...input, shape: [1, ...input.shape.slice(1)], data: input.data.slice(0, rowSize) };
      }),
    };
  }
  return { inputs: exampleTensors(model) };
}
