/**
 * Native model files → ONNX, by file name (a table, as skl2onnx registers converters by model type,
 * not a chain of ifs): a new format adds one row to CONVERTERS. Pure: bytes in, bytes out; no fs, no env (CONVERSION-CONTRACT.md).
 */
import { ConversionError } from './errors.ts';
import type { Conversion } from './describe.ts';
import { convertXgboost } from './xgboost/convert.ts';
import { convertLightgbm } from './lightgbm/convert.ts';
import { convertPmmlModel } from './pmml/convert.ts';

export type { Conversion } from './describe.ts';
export type { ConversionRecord, FeatureRecord, OutputRecord } from './record.ts';
export { CONVERSION_RECORD_FILE } from './record.ts';
export { ConversionError } from './errors.ts';

type Converter = (fileName: string, bytes: Uint8Array) => Conversion;

const CONVERTERS = new Map<string, Converter>([
  ['model.json', convertXgboost],
  ['model.ubj', convertXgboost],
  ['model.txt', convertLightgbm],
  ['model.pmml', convertPmmlModel],
]);

/** The native source file names the registry knows. */
export const NATIVE_MODEL_FILES: readonly string[] = [...CONVERTERS.keys()];

/** Throws ConversionError (naming the file, the problem and the fix) for anything it cannot convert exactly. */
export function convertNativeModel(fileName: string, bytes: Uint8Array): Conversion {
  const converter = CONVERTERS.get(fileName);
  if (converter === undefined) throw new ConversionError(fileName, `not a native model file this converter knows; name it one of ${[...CONVERTERS.keys()].join(', ')}`);
  if (bytes.length === 0) throw new ConversionError(fileName, 'the file is empty');
  try {
    return converter(fileName, bytes);
  } catch (error) {
    if (error instanceof ConversionError) throw error;
    // A file that breaks an assumption no check caught is still refused by name, never a crash.
    throw new ConversionError(fileName, `could not be converted: ${(error as Error).message}`, { cause: error });
  }
}
