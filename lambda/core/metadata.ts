/** What the server and each model say about themselves (v2 server and model metadata). */
import type { ModelEntry } from './catalog.ts';
import type { LoadedModel } from './sessions.ts';
import { classLabels, describeFeatures, type TabularModel } from './tasks/tabular.ts';
import { taskContentTypes } from './tasks/registry.ts';

export const SERVER_NAME = 'modelship';
export const SERVER_VERSION = '0.1.0';
export const PLATFORM = 'onnxruntime_onnx';

export const SERVER_METADATA = { name: SERVER_NAME, version: SERVER_VERSION, extensions: ['model_repository_versions', 'binary_tensor_data'] } as const;

/** v2 model metadata: versions, platform, and each tensor's name, datatype and shape (-1 where free). */
export function modelMetadata(model: LoadedModel, entry: ModelEntry): Record<string, unknown> {
  // A converted classifier whose classes have names answers its label as BYTES (v2-response.ts).
  const named = model.tabular !== undefined && classLabels(model) !== undefined;
  const labelOutput = model.config.labelOutput ?? 'label';
  const tensors = (specs: LoadedModel['signature']['inputs']) => specs.map((s) => ({ name: s.name, datatype: named && s.name === labelOutput && s.datatype.kind !== 'float' ? 'BYTES' : s.datatype.v2, shape: s.shape }));
  const { description, labels, task, maxBatchSize } = model.config;
  // Task models: what the module says of itself (labels, max length, input size, pooling, ...).
  const { labels: taskLabels, ...described } = model.task === undefined ? {} : model.task.module.describe(model.task.loaded);
  return {
    name: model.name,
    versions: entry.versions.map(String),
    platform: PLATFORM,
    inputs: tensors(model.signature.inputs),
    outputs: tensors(model.signature.outputs),
    parameters: {
      version: String(model.version),
      live_version: String(entry.liveVersion),
      sha256: model.sha256,
      execution_provider: model.executionProvider,
      description,
      task: model.task?.module.name ?? task ?? model.tabular?.record.task,
      labels: (taskLabels as readonly string[] | undefined) ?? (model.tabular !== undefined ? classLabels(model) : labels),
      max_batch_size: maxBatchSize,
      // Image and text models: what they take as a raw body, and their preprocessing in brief.
      // Converted models: the source, and the features a request names (types, categories).
      ...(model.tabular === undefined ? {} : tabularMetadata(model.tabular)),
      ...(model.task === undefined ? {} : { content_types: taskContentTypes(model.task), ...described }),
    },
  };
}

/** What metadata says of a converted model: its source, what it computes, and its features. */
function tabularMetadata(model: TabularModel): Record<string, unknown> {
  const { format, source, objective, link, trees, classes, inexact } = model.record;
  return { source_format: format, source_file: source.file, source_producer: source.producer, objective, link, trees, classes, inexact, features: describeFeatures(model) };
}
