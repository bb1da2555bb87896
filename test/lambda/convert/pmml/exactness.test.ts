/**
 * Every PMML fixture (test/fixtures/pmml/<case>/, made by training/pmml/make_fixtures.py) converted
 * and run on a real onnxruntime session: each held-out row gives the producer's label and values
 * within 1e-9 relative (neural networks 1e-6); a row the producer refused as invalid
 * (invalidValueTreatment returnInvalid) is refused by the request check, naming the field and value,
 * and the model itself gives no answer for it.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { convertPmml, type PmmlFeature } from '../../../../lambda/convert/pmml/convert.ts';
import { invalidValueReason } from '../../../../lambda/core/feature-validity.ts';
import { ROOT } from '../../../helpers.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'pmml');

interface Expected {
  readonly task: 'classification' | 'regression';
  readonly objective: string;
  readonly rows: Record<string, string | number | boolean | null>[];
  readonly prediction: (number | null)[][] | null[];
  readonly classes?: string[];
  readonly label?: (number | null)[];
  readonly invalid: (false | string)[];
  readonly tolerance?: number;
  /** Scorecards: the reason codes ranked, null past the last one that cost points. */
  readonly reasonCodes?: (string | null)[][];
}

/** A request value as serving feeds it (lambda/core/tasks/tabular.ts): a category by its index, else the number; null is missing. */
export function encode(feature: PmmlFeature, value: string | number | boolean | null | undefined): number {
  if (value === null || value === undefined) return Number.NaN;
  if (feature.type === 'categorical') {
    const i = feature.categories!.indexOf(String(value));
    return i >= 0 ? i : (feature.unseen ?? Number.NaN);
  }
  if (typeof value === 'boolean') return value ? 1 : 0;
  return Number(value);
}

export function rowMatrix(features: readonly PmmlFeature[], rows: readonly Record<string, unknown>[]): Float64Array {
  const out = new Float64Array(rows.length * features.length);
  rows.forEach((row, r) => features.forEach((f, j) => (out[r * features.length + j] = encode(f, row[f.name] as string | number | null))));
  return out;
}

const close = (got: number, want: number, tolerance: number): boolean => got === want || Math.abs(got - want) <= tolerance * Math.max(Math.abs(want), Math.abs(got));

const cases = existsSync(FIXTURES) ? readdirSync(FIXTURES).filter((c) => existsSync(join(FIXTURES, c, 'expected.json'))).sort() : [];

describe('PMML conversion: exactness against the producing tool', () => {
  it('has fixtures to check', () => assert.ok(cases.length > 0));
  for (const name of cases) {
    it(`${name}: every held-out row equals the producer`, async () => {
      const expected = JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as Expected;
      const { onnx, record } = convertPmml(readFileSync(join(FIXTURES, name, 'model.pmml')));
      assert.equal(record.task, expected.task);
      const tolerance = expected.tolerance ?? 1e-9;
      const session = await ort.InferenceSession.create(onnx);
      const n = record.features.length;
      const input = new ort.Tensor('float64', rowMatrix(record.features, expected.rows), [expected.rows.length, n]);
      const out = await session.run({ features: input });
      const problems: string[] = [];
      expected.rows.forEach((row, r) => {
        const refused = expected.invalid[r];
        if (refused !== false) {
          const reasons = record.features.map((f) => invalidValueReason(f, row[f.name])).filter((x) => x !== undefined);
          if (reasons.length === 0) problems.push(`row ${r}: the producer refused it (${refused}) but the request check accepts it`);
          if (record.task === 'classification' && Number((out.label.data as BigInt64Array)[r]) !== -1) problems.push(`row ${r}: invalid, yet the model answers a label`);
          return;
        }
        const reasons = record.features.map((f) => invalidValueReason(f, row[f.name])).filter((x) => x !== undefined);
        if (reasons.length > 0) problems.push(`row ${r}: valid for the producer, refused by the request check: ${reasons[0]}`);
        const want = expected.prediction[r] as (number | null)[];
        if (record.task === 'scorecard') {
          const got = (out.score.data as Float64Array)[r];
          const w = want[0];
          if (w === null ? !Number.isNaN(got) : !close(got, w, tolerance)) problems.push(`row ${r}: score ${got}, expected ${w}`);
          const K = out.reason_codes.dims[1];
          const codes = (out.reason_codes.data as string[]).slice(r * K, (r + 1) * K);
          const wantCodes = expected.reasonCodes![r].map((c) => c ?? '');
          wantCodes.forEach((c, k) => {
            if ((codes[k] ?? '') !== c) problems.push(`row ${r} reason ${k + 1}: "${codes[k]}", expected "${c}"`);
          });
        } else if (record.task === 'classification') {
          const C = record.classes!.length;
          assert.deepEqual(record.classes, expected.classes);
          const got = Array.from((out.probabilities.data as Float64Array).subarray(r * C, (r + 1) * C));
          const label = Number((out.label.data as BigInt64Array)[r]);
          const wantLabel = expected.label![r];
          if (label !== (wantLabel ?? -1)) problems.push(`row ${r}: label ${label}, expected ${wantLabel}`);
          want.forEach((w, c) => {
            if (w === null ? !Number.isNaN(got[c]) : !close(got[c], w, tolerance)) problems.push(`row ${r} class ${c}: ${got[c]}, expected ${w}`);
          });
        } else {
          const got = (out.prediction.data as Float64Array)[r];
          const w = want[0];
          if (w === null ? !Number.isNaN(got) : !close(got, w, tolerance)) problems.push(`row ${r}: ${got}, expected ${w}`);
        }
      });
      assert.deepEqual(problems, [], `${name} (${expected.objective})`);
    });
  }
});
