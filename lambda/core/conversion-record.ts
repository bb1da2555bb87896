/**
 * conversion.json: what a native model's conversion to ONNX recorded (lambda/convert/ writes it
 * beside the source; CONVERSION-CONTRACT.md fixes its shape): the source file and its sha256, the
 * task, and the features by name with their types and categories, from which requests by name are
 * read. The file sits in the model repository, so it is read back through a schema and a bad one is
 * named; fields this reader does not know are kept and ignored (converters may add optional ones).
 */
import * as z from 'zod/mini';
import { schemaProblems } from './config.ts';

export const CONVERSION_FILE = 'conversion.json';

/** Python pickles: never read (unpickling runs code). Named so a folder holding one is refused with the way out. */
export const PICKLE_FILES = ['model.pkl', 'model.joblib'] as const;

/** Bytes of a native model file in, an ONNX model and its record out (lambda/convert/registry.ts's convertNativeModel, given to the loader by the entry). */
export type NativeConverter = (fileName: string, bytes: Uint8Array) => { readonly onnx: Uint8Array; readonly record: unknown };

export const FEATURE_TYPES = ['numeric', 'integer', 'boolean', 'categorical'] as const;
export type FeatureType = (typeof FEATURE_TYPES)[number];

const featureSchema = z.looseObject({
  name: z.string().check(z.minLength(1)),
  type: z.enum(FEATURE_TYPES),
  categories: z.optional(z.array(z.string())),
  /** The number fed for a category not in the list; null: NaN (missing). */
  unseen: z.optional(z.nullable(z.number())),
});

const outputSchema = z.looseObject({ name: z.string(), datatype: z.string(), shape: z.array(z.number()) });

export const conversionRecordSchema = z
  .looseObject({
    format: z.string(),
    source: z.looseObject({ file: z.string(), sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)), producer: z.optional(z.string()) }),
    converter: z.string(),
    task: z.string(),
    objective: z.optional(z.string()),
    link: z.optional(z.string()),
    inputType: z.enum(['FP32', 'FP64']),
    features: z.array(featureSchema).check(z.minLength(1)),
    classes: z.optional(z.array(z.string())),
    targets: z.optional(z.int().check(z.positive())),
    trees: z.optional(z.int().check(z.nonnegative())),
    outputs: z.array(outputSchema),
    inexact: z._default(z.array(z.string()), []),
  })
  .check((ctx) => {
    const seen = new Set<string>();
    ctx.value.features.forEach((feature, i) => {
      if (seen.has(feature.name)) ctx.issues.push({ code: 'custom', input: feature.name, path: ['features', i, 'name'], message: `feature "${feature.name}" is named twice` });
      seen.add(feature.name);
      if (feature.type === 'categorical' && feature.categories === undefined) ctx.issues.push({ code: 'custom', input: feature, path: ['features', i, 'categories'], message: `categorical feature "${feature.name}" lists no categories` });
    });
  });

export type ConversionRecord = z.infer<typeof conversionRecordSchema>;
export type FeatureRecord = ConversionRecord['features'][number];

export class ConversionRecordError extends Error {
  override name = 'ConversionRecordError';
}

/** A conversion.json's content (bytes, text or an already parsed value) checked; `where` names the file in the error. */
export function parseConversionRecord(content: Uint8Array | string | unknown, where: string): ConversionRecord {
  let raw = content;
  if (typeof content === 'string' || content instanceof Uint8Array) {
    try {
      raw = JSON.parse(typeof content === 'string' ? content : Buffer.from(content).toString('utf8'));
    } catch (error) {
      throw new ConversionRecordError(`${where} is not valid JSON: ${(error as Error).message}`);
    }
  }
  const parsed = z.safeParse(conversionRecordSchema, raw);
  if (!parsed.success) throw new ConversionRecordError(`${where} is not a conversion record: ${schemaProblems(parsed.error)} (write it again with modelship convert)`);
  return parsed.data;
}
