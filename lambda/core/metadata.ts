/** What the server and each model say about themselves (v2 server and model metadata). */
import type { ModelEntry } from './catalog.ts';
import type { LoadedModel } from './sessions.ts';

export const SERVER_NAME = 'modelship';
export const SERVER_VERSION = '0.1.0';
export const PLATFORM = 'onnxruntime_onnx';

export const SERVER_METADATA = { name: SERVER_NAME, version: SERVER_VERSION, extensions: ['model_repository_versions', 'binary_tensor_data'] } as const;

/** v2 model metadata: versions, platform, and each tensor's name, datatype and shape (-1 where free). */
export function modelMetadata(model: LoadedModel, entry: ModelEntry): Record<string, unknown> {
  const tensors = (specs: LoadedModel['signature']['inputs']) => specs.map((s) => ({ name: s.name, datatype: s.datatype.v2, shape: s.shape }));
  const { description, labels, task, maxBatchSize } = model.config;
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
      task: model.task?.task ?? task,
      labels: model.task?.labels ?? labels,
      max_batch_size: maxBatchSize,
      // Image and text models: what they take as a raw body, and their preprocessing in brief.
      ...(model.task === undefined ? {} : { content_types: model.task.contentTypes, ...(model.task.text !== undefined ? { max_length: model.task.text.encoder.maxLength } : {}), ...(model.task.pooling !== undefined ? { pooling: model.task.pooling.mode, normalize: model.task.pooling.normalize } : {}) }),
    },
  };
}
