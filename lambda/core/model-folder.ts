/**
 * What one version folder holds, read for a load: the ONNX model (model.onnx, Optimum's
 * onnx/model.onnx, or a native model converted in memory where the process may convert), the files
 * beside it that change what it does, and a converted model's conversion record. A folder the
 * server cannot serve as it stands (a pickle, two model files, a model.onnx converted from another
 * file, a native file this process may not convert) is refused here, naming the file and the fix.
 */
import { createHash } from 'node:crypto';
import { MODEL_FILE, type ModelEntry } from './catalog.ts';
import { CONVERSION_FILE, ConversionRecordError, parseConversionRecord, PICKLE_FILES, type ConversionRecord, type NativeConverter } from './conversion-record.ts';
import { describeError, modelUnavailable, storeUnreachable } from './errors.ts';
import type { CoreLogger } from './logger.ts';
import type { ModelSource } from './model-source.ts';
import { TASK_SIDE_FILES } from './tasks/registry.ts';

export interface FolderReadOptions {
  readonly source: ModelSource;
  /** The native model files the converter registry knows (lambda/convert/registry.ts's NATIVE_MODEL_FILES). @default - none: only ONNX is served */
  readonly nativeModelFiles?: readonly string[];
  /**
   * Converts a native model found without its converted model.onnx (npm start, the SageMaker
   * container). A Lambda function is given none: it serves what cdk synth staged and never converts
   * at cold start. @default - a native file without model.onnx is refused
   */
  readonly convertNative?: NativeConverter;
  readonly logger: CoreLogger;
}

export interface ModelFolder {
  /** Where the ONNX model came from, for messages: its path, or "<native> (converted at load)". */
  readonly path: string;
  readonly onnx: Uint8Array;
  /** The files beside the model whose digest the deployment pins, by path relative to the folder. */
  readonly sideFiles: ReadonlyMap<string, Uint8Array>;
  /** A converted model's record (from conversion.json, or from the conversion just made). */
  readonly record?: ConversionRecord;
}

/** The files beside model.onnx that change what a version does, whose digest the deployment pins: every registered task's side files, and a converted model's record and source. */
export const pinnedSideFiles = (nativeModelFiles: readonly string[] = []): readonly string[] => [...TASK_SIDE_FILES, CONVERSION_FILE, ...nativeModelFiles];

/** Files in a version folder that make it a version: an ONNX model, a native one, or a pickle (listed so it can be refused by name). */
export const isModelFile = (path: string, nativeModelFiles: readonly string[] = []): boolean =>
  path === MODEL_FILE || path === `onnx/${MODEL_FILE}` || nativeModelFiles.includes(path) || (PICKLE_FILES as readonly string[]).includes(path);

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** A refusal of what the folder holds: the model cannot be served until it changes (503, like a corrupt model file). */
const refuse = (entry: ModelEntry, version: number, problem: string) => modelUnavailable(`model "${entry.name}" version ${version} cannot be loaded: ${problem}`);

/** Which files of the folder to read, from the store's listing (or every candidate where there is none). */
function present(listed: ReadonlySet<string> | undefined, candidates: readonly string[]): string[] {
  return listed === undefined ? [...candidates] : candidates.filter((file) => listed.has(file));
}

/** Reads one version folder: its ONNX model (converting a native one where allowed), side files and record. */
export async function readModelFolder(entry: ModelEntry, version: number, options: FolderReadOptions): Promise<ModelFolder> {
  const { source } = options;
  const folder = `${entry.name}/${version}`;
  const natives = options.nativeModelFiles ?? [];
  const listed = entry.files?.get(version);
  const pickle = listed === undefined ? undefined : PICKLE_FILES.find((file) => listed.has(file));
  if (pickle !== undefined) {
    throw refuse(entry, version, `${folder}/${pickle} is a Python pickle, which ModelShip never reads (loading one runs its code): export the model to ONNX with skl2onnx as model.onnx, or save a tree booster with its native save_model as model.json or model.ubj (XGBoost) or model.txt (LightGBM)`);
  }
  let onnxPath = `${folder}/${MODEL_FILE}`;
  if (listed !== undefined && !listed.has(MODEL_FILE) && listed.has(`onnx/${MODEL_FILE}`)) onnxPath = `${folder}/onnx/${MODEL_FILE}`;
  const side = present(listed, pinnedSideFiles(natives));
  let onnx: Uint8Array | undefined;
  const files = new Map<string, Uint8Array>();
  try {
    // The model and the files beside it, read at once: only those the catalog's listing holds (a
    // tabular model on S3 pays no GET for absent tokenizer files).
    const wantOnnx = listed === undefined || listed.has(MODEL_FILE) || listed.has(`onnx/${MODEL_FILE}`);
    const [model, ...contents] = await Promise.all([wantOnnx ? source.readFile(onnxPath) : undefined, ...side.map((file) => source.readFile(`${folder}/${file}`))]);
    contents.forEach((content, i) => content !== undefined && files.set(side[i], content));
    onnx = model;
    // Optimum's layout: the model under onnx/ (when no listing said so).
    if (onnx === undefined && listed === undefined) onnx = await source.readFile((onnxPath = `${folder}/onnx/${MODEL_FILE}`));
  } catch (error) {
    options.logger.error('model store unreachable', { model: entry.name, version, cause: describeError(error) });
    throw storeUnreachable(`model "${entry.name}" version ${version} cannot be read from ${source.location}: ${describeError(error)}`, error);
  }
  const nativeFiles = natives.filter((file) => files.has(file));
  if (nativeFiles.length > 1) throw refuse(entry, version, `${folder} holds ${nativeFiles.join(' and ')}: a version folder holds one model file; keep one`);
  const native = nativeFiles[0];
  const recordBytes = files.get(CONVERSION_FILE);
  const readRecord = (): ConversionRecord | undefined => {
    if (recordBytes === undefined) return undefined;
    try {
      return parseConversionRecord(recordBytes, `${folder}/${CONVERSION_FILE}`);
    } catch (error) {
      throw refuse(entry, version, (error as Error).message);
    }
  };
  if (native === undefined) {
    if (onnx === undefined) throw storeUnreachable(`model "${entry.name}" version ${version}: ${folder}/${MODEL_FILE} is no longer in ${source.location}`);
    return { path: onnxPath, onnx, sideFiles: files, record: readRecord() };
  }
  const nativeSha = sha256(files.get(native)!);
  if (onnx !== undefined) {
    // model.onnx beside a native file is its conversion, or it is refused: two models in one folder.
    const record = readRecord();
    if (record === undefined) throw refuse(entry, version, `${folder} holds ${native} and ${MODEL_FILE} but no ${CONVERSION_FILE}: two model files in one version folder; delete ${MODEL_FILE} (${native} is converted before serving) or write both again with modelship convert --model ${entry.name} --version ${version}`);
    if (record.source.file !== native || record.source.sha256 !== nativeSha) {
      throw refuse(entry, version, `${folder}/${MODEL_FILE} was converted from ${record.source.file} with sha256 ${record.source.sha256}, but the folder's ${native} has sha256 ${nativeSha}: it is stale or from another model; run modelship convert --model ${entry.name} --version ${version} (or delete ${MODEL_FILE} and ${CONVERSION_FILE})`);
    }
    return { path: onnxPath, onnx, sideFiles: files, record };
  }
  if (options.convertNative === undefined) {
    throw refuse(entry, version, `${folder}/${native} has no converted ${MODEL_FILE} beside it, and this server does not convert at start (a Lambda function never converts at cold start): deploy with cdk deploy, whose synth stages the conversion, or run modelship convert --model ${entry.name} --version ${version}`);
  }
  let converted: { onnx: Uint8Array; record: unknown };
  const started = performance.now();
  try {
    converted = options.convertNative(native, files.get(native)!);
  } catch (error) {
    // The converter's message names the file, the problem and the fix.
    throw refuse(entry, version, `${folder}: ${describeError(error)}`);
  }
  let record: ConversionRecord;
  try {
    record = parseConversionRecord(converted.record, `the conversion record of ${folder}/${native}`);
  } catch (error) {
    throw refuse(entry, version, error instanceof ConversionRecordError ? error.message : describeError(error));
  }
  options.logger.info('model converted', { model: entry.name, version, file: native, format: record.format, trees: record.trees, convertMs: Math.round(performance.now() - started), onnxBytes: converted.onnx.length });
  files.delete(CONVERSION_FILE);
  return { path: `${folder}/${native} (converted at load)`, onnx: converted.onnx, sideFiles: files, record };
}
