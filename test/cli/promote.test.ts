/**
 * What the CLI says and leaves behind: an optimized version stays a candidate until `promote`
 * makes it live; errors that are not usage mistakes are one line; ratios say which way they go;
 * `batch` says where its results went.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createTestService, ROOT, TempRepository } from '../helpers.ts';

const exec = promisify(execFile);
const cli = (args: string[], cwd = ROOT) =>
  exec(process.execPath, [join(ROOT, 'bin', 'cli.ts'), ...args], { cwd }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );

/** The version the plain routes serve, from a fresh service over the repository (as a restarted server). */
async function servedVersion(dir: string, model: string): Promise<string> {
  return (await createTestService(dir).loadModel(model)).version.toString();
}

describe('modelship optimize and promote', () => {
  it('leaves the optimized version a candidate (the live version pinned), says how to promote it, and promote makes it live', { timeout: 60_000 }, async () => {
    const repo = new TempRepository('promote-').sample('digits_mlp');
    const optimized = await cli(['optimize', '--model', 'digits_mlp', '--graph', '--models-dir', repo.dir]);
    assert.equal(optimized.code, 0, optimized.stderr);
    assert.ok(existsSync(join(repo.dir, 'digits_mlp', '2', 'model.onnx')));
    assert.deepEqual(JSON.parse(readFileSync(join(repo.dir, 'digits_mlp', 'config.json'), 'utf8')).versionPolicy, { pinned: 1 });
    assert.equal(await servedVersion(repo.dir, 'digits_mlp'), '1');
    assert.match(optimized.stdout, /Version 2 is a candidate, not live: the plain routes keep serving version 1/);
    assert.match(optimized.stdout, /To make it live: npm run cli -- promote --model digits_mlp --version 2; then npx cdk deploy \(the golden gate checks it/);
    // Ratios say which way they go.
    assert.match(optimized.stdout, /size: .* bytes \((\d+\.\d\d× (smaller|larger)|unchanged)\)/);
    assert.match(optimized.stdout, /latency: .* per single-row run \((\d+\.\d\d× (faster|slower)|unchanged)\)/);

    const promoted = await cli(['promote', '--model', 'digits_mlp', '--version', '2', '--models-dir', repo.dir]);
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.match(promoted.stdout, /^digits_mlp: version 2 is now the live version \(it was 1\)/);
    assert.equal(await servedVersion(repo.dir, 'digits_mlp'), '2');
  });

  it('keeps a pin the config already has, and optimizes a model whose config pins a version', { timeout: 60_000 }, async () => {
    const repo = new TempRepository('promote-pinned-').sample('digits_mlp').copy(join(ROOT, 'models', 'digits_mlp', '1'), 'digits_mlp/2').config('digits_mlp', { versionPolicy: { pinned: 1 } });
    assert.equal((await cli(['optimize', '--model', 'digits_mlp', '--graph', '--models-dir', repo.dir])).code, 0);
    assert.deepEqual(JSON.parse(readFileSync(join(repo.dir, 'digits_mlp', 'config.json'), 'utf8')).versionPolicy, { pinned: 1 });
    assert.equal(await servedVersion(repo.dir, 'digits_mlp'), '1');
  });

  it('refuses to promote a version the model does not have, in one line', async () => {
    const repo = new TempRepository('promote-bad-').sample('digits_mlp');
    const { code, stderr } = await cli(['promote', '--model', 'digits_mlp', '--version', '4', '--models-dir', repo.dir]);
    assert.equal(code, 2);
    assert.match(stderr, /^modelship: model "digits_mlp" has no version 4 \(.*\)\n$/);
  });
});

describe('CLI errors and wording', () => {
  it('answers an error that is not a usage mistake with one line, and a usage mistake with the usage', async () => {
    const repo = new TempRepository('cli-errors-').sample('iris_forest');
    const events = join(repo.dir, 'events.jsonl');
    writeFileSync(events, `${JSON.stringify({ model: 'iris_forest', version: '1', outcome: 1 })}\n`);
    for (const args of [
      ['optimize', '--model', 'iris_forest', '--fp16', '--models-dir', repo.dir],
      ['ab-report', '--model', 'iris_forest', '--events', events],
      ['drift', '--model', 'nope', '--captures', events, '--models-dir', repo.dir],
    ]) {
      const { code, stderr } = await cli(args);
      assert.equal(code, 2, args.join(' '));
      assert.equal(stderr.trimEnd().split('\n').length, 1, `${args.join(' ')}:\n${stderr}`);
      assert.match(stderr, /^modelship: \S/);
    }
    for (const args of [['optimize', '--int8'], ['promote', '--model', 'iris_forest'], ['frobnicate'], ['optimize', '--model', 'x', '--wat']]) {
      const { code, stderr } = await cli(args);
      assert.equal(code, 2);
      assert.match(stderr, /\nusage:\n {2}modelship ab-report/, args.join(' '));
    }
  });

  it('batch says in plain words where the predictions and the rejected lines went, and both files are there', { timeout: 60_000 }, async () => {
    const repo = new TempRepository('cli-batch-');
    const input = join(repo.dir, 'rows.csv');
    writeFileSync(input, 'sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\nx,1,1,1\n');
    const { code, stdout, stderr } = await cli(['batch', '--model', 'iris_forest', '--input', input, '--work-dir', join(repo.dir, 'work')]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^Scored 2 of 3 rows with iris_forest version 1 in [\d.]+ s \(\d+ rows\/s\); 1 line\(s\) rejected\.$/m);
    const results = /^The predictions, one line per input line in input order, are in (\S+)$/m.exec(stdout)?.[1];
    const errors = /^The rejected lines, each with the reason, are in (\S+)$/m.exec(stdout)?.[1];
    assert.ok(results !== undefined && errors !== undefined, stdout);
    assert.equal(readFileSync(results, 'utf8').trim().split('\n').length, 2);
    assert.match(readFileSync(errors, 'utf8'), /"line":4,"error":"column \\"sepal_length\\" is \\"x\\", not a number"/);
  });
});
