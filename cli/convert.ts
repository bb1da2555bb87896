/**
 * `modelship convert --model NAME [--version V]`: converts the version folder's native model file
 * (model.json / model.ubj / model.txt) into model.onnx and conversion.json beside it. Nothing is written
 * unless the conversion succeeds: both files are written to temporary names, then renamed.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONVERSION_RECORD_FILE, convertNativeModel, NATIVE_MODEL_FILES, type ConversionRecord } from '../lambda/convert/registry.ts';

/** Pickles are never read: they run code when loaded. */
const PICKLES = ['model.pkl', 'model.joblib'];

export interface ConvertResult {
  readonly directory: string;
  readonly source: string;
  readonly record: ConversionRecord;
  readonly onnxBytes: number;
  readonly sourceBytes: number;
  readonly seconds: number;
}

export function latestVersion(modelDir: string): number {
  const versions = readdirSync(modelDir).filter((v) => /^[1-9]\d*$/.test(v)).map(Number);
  if (versions.length === 0) throw new Error(`${modelDir} has no version folders (1, 2, …)`);
  return Math.max(...versions);
}

export function convertVersionFolder(modelsDir: string, model: string, version?: number): ConvertResult {
  const modelDir = join(modelsDir, model);
  if (!existsSync(modelDir)) throw new Error(`no model "${model}" in ${modelsDir}`);
  const v = version ?? latestVersion(modelDir);
  const directory = join(modelDir, String(v));
  if (!existsSync(directory)) throw new Error(`model "${model}" has no version ${v} (${directory})`);
  const files = readdirSync(directory);
  const pickle = files.find((f) => PICKLES.includes(f));
  if (pickle !== undefined) throw new Error(`${join(directory, pickle)}: a pickle is never read (loading it runs code); export the model with skl2onnx, or save it with the library's own save_model (model.json, model.ubj, model.txt)`);
  const native = files.filter((f) => NATIVE_MODEL_FILES.includes(f));
  if (native.length === 0) throw new Error(`${directory} holds no native model file (${NATIVE_MODEL_FILES.join(', ')})`);
  if (native.length > 1) throw new Error(`${directory} holds ${native.length} model files (${native.join(', ')}); keep one`);
  const source = native[0];
  const bytes = readFileSync(join(directory, source));
  const started = performance.now();
  let conversion;
  try {
    conversion = convertNativeModel(source, bytes);
  } catch (error) {
    // The converter names the file; the command names where it is.
    throw new Error(`${directory}/${(error as Error).message}`, { cause: error });
  }
  const { onnx, record } = conversion;
  const seconds = (performance.now() - started) / 1000;
  const written = [['model.onnx', onnx], [CONVERSION_RECORD_FILE, `${JSON.stringify(record, null, 2)}\n`]] as const;
  const temporary = written.map(([name]) => join(directory, `.${name}.${process.pid}.tmp`));
  try {
    written.forEach(([, data], i) => writeFileSync(temporary[i], data));
    written.forEach(([name], i) => renameSync(temporary[i], join(directory, name)));
  } finally {
    for (const t of temporary) rmSync(t, { force: true });
  }
  return { directory, source, record, onnxBytes: onnx.length, sourceBytes: bytes.length, seconds };
}

export function formatConversion(r: ConvertResult): string {
  const { record } = r;
  return [
    `${join(r.directory, r.source)} (${record.source.producer}, ${record.objective}) → model.onnx, ${CONVERSION_RECORD_FILE}`,
    `  ${record.task}, link ${record.link}, ${record.trees} trees, ${record.features.length} features (${record.features.filter((f) => f.type === 'categorical').length} categorical), input ${record.inputType}`,
    `  ${r.sourceBytes} bytes → ${r.onnxBytes} bytes ONNX in ${r.seconds.toFixed(3)} s${record.inexact.length > 0 ? `; not exact: ${record.inexact.join('; ')}` : '; exact'}`,
  ].join('\n');
}
