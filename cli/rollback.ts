/** `modelship rollback`: pin a model's live version in its config.json (then `cdk deploy`). */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MODEL_FILE } from '../lambda/core/catalog.ts';
import { parseModelConfig } from '../lambda/core/config.ts';
import { NATIVE_MODEL_FILES } from '../lambda/convert/files.ts';

/** Sets versionPolicy to {"pinned": version}, keeping every other field; returns the file written. */
export function pinVersion(modelsDir: string, model: string, version: number): string {
  const dir = join(modelsDir, model);
  if (!existsSync(dir)) throw new Error(`no model "${model}" in ${modelsDir}`);
  // A version is a folder holding model.onnx or a native model (converted before serving).
  const versionDir = join(dir, String(version));
  if (![MODEL_FILE, `onnx/${MODEL_FILE}`, ...NATIVE_MODEL_FILES].some((f) => existsSync(join(versionDir, f)))) throw new Error(`model "${model}" has no version ${version} (${versionDir} holds no ${MODEL_FILE} or ${NATIVE_MODEL_FILES.join(', ')})`);
  const file = join(dir, 'config.json');
  const raw = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  const next = { ...raw, versionPolicy: { pinned: version } };
  parseModelConfig(JSON.stringify(next), file); // refuse to write a config the stack would reject
  writeFileSync(file, `${JSON.stringify(next, null, 2)}\n`);
  return file;
}
