/** The model repository both client libraries are tested against: every task, a broken version, and the identity fixtures. */
import { TempRepository } from '../helpers.ts';

export function clientTestRepository(prefix: string): TempRepository {
  return new TempRepository(prefix)
    .sample('iris_forest')
    .sample('debian_sections')
    .sample('debian_embeddings')
    .sample('text_orientation')
    .file('iris_forest/2/model.onnx', 'not a model')
    .config('iris_forest', { versionPolicy: { pinned: 1 } })
    .fixture('identity_fp32')
    .fixture('identity_int64')
    .fixture('identity_bytes');
}
