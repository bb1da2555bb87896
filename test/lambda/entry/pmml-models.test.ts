/**
 * PMML models served as they are, through `npm start` (bin/serve.ts) over real HTTP: model.pmml files
 * made by sklearn2pmml (test/fixtures/pmml/) are converted at start and answer rows by feature name,
 * categorical fields by value, as scikit-learn predicted them (a scorecard: its score and reason codes,
 * as JPMML-Evaluator gives them); a value the model's DataDictionary
 * refuses (invalidValueTreatment returnInvalid) is a 400 naming the field and the value.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, ROOT, spawnServer, TempRepository } from '../../helpers.ts';

const PMML = join(ROOT, 'test', 'fixtures', 'pmml');
const CASES = ['sk_tree_clf_penguins', 'sk_logreg_penguins_invalid', 'sk_gbdt_reg'];

interface Expected {
  readonly rows: Record<string, unknown>[];
  readonly prediction: (number[] | null)[];
  readonly classes?: string[];
  readonly label?: (number | null)[];
  readonly invalid: (false | string)[];
}
const expected = (name: string): Expected => JSON.parse(readFileSync(join(PMML, name, 'expected.json'), 'utf8')) as Expected;
const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));

describe('PMML models through npm start', () => {
  let repo: TempRepository;
  let server: { child: ChildProcess; url: string; output: () => string };
  before(async () => {
    repo = new TempRepository('pmml-start-');
    for (const name of [...CASES, 'hand_scorecard_points_below']) repo.file(`${name}/1/model.pmml`, readFileSync(join(PMML, name, 'model.pmml')));
    repo.file('doctype/1/model.pmml', '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"/>');
    server = await spawnServer('serve.ts', { MODEL_DIR: repo.dir, HOST: '127.0.0.1', LOCAL_DATA_DIR: join(repo.dir, '.local') });
  });
  after(async () => {
    server?.child.kill();
    if (server !== undefined && server.child.exitCode === null) await once(server.child, 'exit');
    rmSync(repo.dir, { recursive: true, force: true });
  });

  it('answers every valid held-out row by feature name as scikit-learn did: class names and probabilities, or the value', async () => {
    for (const name of CASES) {
      const want = expected(name);
      const valid = want.rows.map((row, r) => ({ row, r })).filter(({ r }) => want.invalid[r] === false);
      const answer = await call(`${server.url}/v1/models/${name}:predict`, 'POST', JSON.stringify({ instances: valid.map(({ row }) => row) }));
      assert.equal(answer.status, 200, `${name}: ${answer.text}`);
      const predictions = answer.json.predictions as unknown[];
      valid.forEach(({ r }, i) => {
        const native = want.prediction[r]!;
        if (want.classes !== undefined) {
          const got = predictions[i] as { label: string; probabilities: number[] };
          assert.equal(got.label, want.classes[want.label![r]!], `${name} row ${r}: label`);
          got.probabilities.forEach((p, c) => assert.ok(close(p, native[c]), `${name} row ${r} class ${c}: ${p} vs ${native[c]}`));
        } else {
          const got = predictions[i] as number[];
          assert.ok(close(got[0], native[0]), `${name} row ${r}: ${got[0]} vs ${native[0]}`);
        }
      });
    }
  });

  it('answers 400 naming the field and the value for a value the DataDictionary refuses (returnInvalid)', async () => {
    const want = expected('sk_logreg_penguins_invalid');
    const r = want.invalid.findIndex((x) => x !== false);
    assert.ok(r >= 0, 'the fixture has a row scikit-learn refused');
    const answer = await call(`${server.url}/v1/models/sk_logreg_penguins_invalid:predict`, 'POST', JSON.stringify({ instances: [want.rows[r]] }));
    assert.equal(answer.status, 400, answer.text);
    assert.match(answer.json.error, /instances\[0\]: feature "(island|sex)": value "Atlantis" is not one of its valid values/);
  });

  it('answers a scorecard with its score and reason codes, ranked, as JPMML-Evaluator does', async () => {
    const want = JSON.parse(readFileSync(join(PMML, 'hand_scorecard_points_below', 'expected.json'), 'utf8')) as Expected & { reasonCodes: (string | null)[][] };
    const answer = await call(`${server.url}/v1/models/hand_scorecard_points_below:predict`, 'POST', JSON.stringify({ instances: want.rows }));
    assert.equal(answer.status, 200, answer.text);
    (answer.json.predictions as { score: number[]; reason_codes: string[] }[]).forEach((got, r) => {
      assert.ok(close(got.score[0], want.prediction[r]![0]), `row ${r}: score ${got.score[0]} vs ${want.prediction[r]![0]}`);
      assert.deepEqual(got.reason_codes.filter((c) => c !== ''), want.reasonCodes[r].filter((c) => c !== null), `row ${r}: reason codes`);
    });
  });

  it('lists the features with their categories in metadata', async () => {
    const meta = await call(`${server.url}/v2/models/sk_tree_clf_penguins`);
    assert.equal(meta.status, 200, meta.text);
    assert.match(meta.text, /"island"/);
    assert.match(meta.text, /"Torgersen"/);
  });

  it('shows a PMML document with a DOCTYPE as unavailable, naming the problem, and answers its routes 503', async () => {
    assert.match(server.output(), /doctype\s+FAILING \(versions 1\): .*model\.pmml: the document has a DOCTYPE/);
    assert.equal((await call(`${server.url}/v1/models/doctype:predict`, 'POST', '{"instances": [{}]}')).status, 503);
  });
});
