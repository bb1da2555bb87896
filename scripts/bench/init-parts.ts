// A Lambda cold start of one model, part by part, in a fresh process (the bench's part y): the
// bundled handler's module load (PRELOAD_MODELS=false: no model work), then what init does for the
// model with the runtime's own code: the catalog read, the S3 download, the sha256, the onnxruntime
// session, the first run on zeros of its shape; then a second run (what a request pays on a warm
// session) and the after-restore hook of the loaded handler (what SnapStart leaves to a restore).
// Prints one JSON line. Usage: node init-parts.ts STAGED_DIR MODEL (env: the function's, s3rver's)
import { createHash } from 'node:crypto';
import { InferenceSession } from 'onnxruntime-node';
import type { LoadedModel } from '../../lambda/core/sessions.ts';
import { defaultSessionOptions } from '../../lambda/core/sessions.ts';
import { readSignature } from '../../lambda/core/signature.ts';
import { warmUp } from '../../lambda/core/warm-up.ts';
import { createRepository, readRuntimeConfig } from '../../lambda/entry/runtime-config.ts';

const [staged, model] = process.argv.slice(2);
const time = async <T>(fn: () => Promise<T> | T): Promise<[T, number]> => {
  const started = performance.now();
  const value = await fn();
  return [value, performance.now() - started];
};
const [handlerModule, moduleLoadMs] = await time(() => import(`${staged}/index.mjs`) as Promise<{ afterRestore(): void }>);
const config = readRuntimeConfig({ ...process.env, PRELOAD_MODELS: 'false' });
const repository = createRepository(config);
const [catalog, catalogMs] = await time(() => repository.catalog());
const version = catalog.get(model)!.liveVersion!;
const [bytes, downloadMs] = await time(() => repository.source.readFile(`${model}/${version}/model.onnx`));
const [, hashMs] = await time(() => createHash('sha256').update(bytes!).digest('hex'));
const [session, sessionMs] = await time(() => InferenceSession.create(bytes!, defaultSessionOptions(config.intraOpThreads, false)));
const loaded = { session, signature: readSignature(session) } as LoadedModel;
const firstRunMs = await warmUp(loaded);
const secondRunMs = await warmUp(loaded);
const [, afterRestoreMs] = await time(() => handlerModule.afterRestore());
console.log(JSON.stringify({ model, bytes: bytes!.length, moduleLoadMs, catalogMs, downloadMs, hashMs, sessionMs, firstRunMs, secondRunMs, afterRestoreMs }));
process.exit(0);
