/**
 * Runs a converted model on a fixture's rows in a real onnxruntime session and compares with the native
 * library's predictions (test/fixtures/trees/<case>/expected.json, CONVERSION-CONTRACT.md "Fixtures").
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { convertNativeModel, NATIVE_MODEL_FILES, type Conversion, type ConversionRecord } from '../../../lambda/convert/registry.ts';

export interface Expected {
  readonly library: 'xgboost' | 'lightgbm';
  readonly libraryVersion?: string;
  readonly objective: string;
  readonly rows: readonly Record<string, unknown>[];
  readonly margin?: readonly (readonly number[])[];
  readonly prediction: readonly (readonly number[])[];
  readonly label?: readonly number[];
}

export interface CaseResult {
  readonly name: string;
  readonly record: ConversionRecord;
  readonly rows: number;
  /** Largest |onnx − native| / |native| over every compared value (|native| floored at 1e-300). */
  readonly maxRelative: number;
  /** Row indices whose label differs. */
  readonly labelMismatches: number[];
  /** The compared pairs that break the tolerance: [row, column, onnx, native]. */
  readonly failures: [number, number, number, number][];
  readonly seconds: number;
  readonly onnxBytes: number;
  readonly sourceBytes: number;
}

/** Names → the input matrix, per conversion.json (missing: NaN; categories: their index; unseen per record). */
export function rowsToMatrix(record: ConversionRecord, rows: readonly Record<string, unknown>[]): Float32Array | Float64Array {
  const n = record.features.length;
  const out = record.inputType === 'FP32' ? new Float32Array(rows.length * n) : new Float64Array(rows.length * n);
  rows.forEach((row, r) => {
    record.features.forEach((f, c) => {
      const v = row[f.name];
      let x: number;
      if (v === null || v === undefined) x = Number.NaN;
      else if (f.type === 'categorical') {
        const index = f.categories!.indexOf(String(v));
        x = index >= 0 ? index : (f.unseen ?? Number.NaN);
      } else if (typeof v === 'boolean') x = v ? 1 : 0;
      else x = Number(v);
      out[r * n + c] = x;
    });
  });
  return out;
}

export function modelFile(dir: string): string {
  const files = readdirSync(dir).filter((f) => NATIVE_MODEL_FILES.includes(f));
  if (files.length !== 1) throw new Error(`${dir}: expected one native model file, found ${files.join(', ') || 'none'}`);
  return files[0];
}

export async function checkCase(dir: string, name: string): Promise<CaseResult> {
  const file = modelFile(dir);
  const bytes = readFileSync(join(dir, file));
  const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected;
  const started = performance.now();
  const conversion: Conversion = convertNativeModel(file, bytes);
  const seconds = (performance.now() - started) / 1000;
  const { record } = conversion;
  const session = await ort.InferenceSession.create(conversion.onnx);
  try {
    const matrix = rowsToMatrix(record, expected.rows);
    const input = new ort.Tensor(record.inputType === 'FP32' ? 'float32' : 'float64', matrix, [expected.rows.length, record.features.length]);
    const result = await session.run({ features: input });
    const tol = record.format === 'lightgbm' ? 1e-9 : 1e-5;
    const failures: [number, number, number, number][] = [];
    let maxRelative = 0;
    const labelMismatches: number[] = [];
    // binary:logitraw predicts the raw margin, which the model outputs as `margin`.
    const values = record.outputs.some((o) => o.name === 'margin') ? result.margin : record.task === 'classification' ? result.probabilities : result.prediction;
    const width = values.dims[1] as number;
    const data = values.data as Float32Array | Float64Array;
    // multi:softmax's native prediction is the class index; its probabilities are the softmax of the native margin.
    const softmaxLabels = record.objective === 'multi:softmax';
    const nativeValues = softmaxLabels ? expected.margin!.map(softmax) : expected.prediction;
    nativeValues.forEach((native, r) => {
      // A binary classifier's native prediction is the positive class's probability alone.
      const columns = native.length === width ? native.map((_, c) => c) : native.length === 1 && width === 2 ? [1] : undefined;
      if (columns === undefined) throw new Error(`${name}: row ${r} has ${native.length} native values for ${width} ONNX columns`);
      columns.forEach((c, k) => {
        const a = data[r * width + c];
        const b = native[k];
        const rel = Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
        if (!(a === b) && !(rel <= tol)) failures.push([r, c, a, b]);
        if (a !== b) maxRelative = Math.max(maxRelative, Number.isNaN(rel) ? Infinity : rel);
      });
    });
    if (record.task === 'classification') {
      const labels = result.label.data as BigInt64Array;
      (softmaxLabels ? expected.prediction.map((p) => p[0]) : (expected.label ?? [])).forEach((l, r) => {
        if (Number(labels[r]) !== l) labelMismatches.push(r);
      });
      if (expected.label === undefined) throw new Error(`${name}: a classifier's fixture has no labels`);
    }
    return { name, record, rows: expected.rows.length, maxRelative, labelMismatches, failures, seconds, onnxBytes: conversion.onnx.length, sourceBytes: bytes.length };
  } finally {
    await session.release();
  }
}

function softmax(row: readonly number[]): number[] {
  const max = Math.max(...row);
  const e = row.map((x) => Math.exp(x - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}
