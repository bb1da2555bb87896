/**
 * `modelship convert`: writes model.onnx and conversion.json beside the native file; on bad input it
 * exits 2 with one error line and writes nothing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { ROOT } from '../helpers.ts';

const exec = promisify(execFile);
const cli = (args: string[]) => exec(process.execPath, [join(ROOT, 'bin', 'cli.ts'), ...args], { cwd: ROOT }).then(
  ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
  (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
);

function repository(files: Record<string, string | Buffer>, version = '2'): string {
  const dir = mkdtempSync(join(tmpdir(), 'convert-cli-'));
  mkdirSync(join(dir, 'm', '1'), { recursive: true });
  mkdirSync(join(dir, 'm', version), { recursive: true });
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, 'm', version, name), data);
  return dir;
}

describe('modelship convert', () => {
  it('writes model.onnx and conversion.json beside the latest version\'s native file', async () => {
    const dir = repository({});
    copyFileSync(join(ROOT, 'test', 'fixtures', 'trees', 'xgb3_binary_logistic_cat', 'model.json'), join(dir, 'm', '2', 'model.json'));
    const { code, stdout, stderr } = await cli(['convert', '--model', 'm', '--models-dir', dir]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /model\.json \(xgboost 3\.\d+\.\d+, binary:logistic\) → model\.onnx, conversion\.json/);
    assert.deepEqual(readdirSync(join(dir, 'm', '2')).sort(), ['conversion.json', 'model.json', 'model.onnx']);
    const record = JSON.parse(readFileSync(join(dir, 'm', '2', 'conversion.json'), 'utf8'));
    assert.equal(record.format, 'xgboost');
    assert.equal(record.task, 'classification');
    const session = await ort.InferenceSession.create(join(dir, 'm', '2', 'model.onnx'));
    assert.deepEqual([...session.inputNames], ['features']);
    assert.deepEqual([...session.outputNames].sort(), ['label', 'probabilities']);
    await session.release();
  });

  for (const [what, files, message] of [
    ['a truncated model', { 'model.txt': 'tree\nversion=v4\n' }, /^modelship: \S+\/m\/2\/model\.txt: no "end of trees" line: the file is truncated/],
    ['two model files', { 'model.txt': 'tree\n', 'model.json': '{}' }, /holds 2 model files \(model\.json, model\.txt\); keep one/],
    ['a pickle', { 'model.pkl': 'x' }, /model\.pkl: a pickle is never read .* skl2onnx/],
    ['an unknown objective', { 'model.json': JSON.stringify({ version: [3, 1, 0], learner: { learner_model_param: { num_feature: '1' }, objective: { name: 'reg:whatever' } } }) }, /learner\.objective: unknown objective "reg:whatever"/],
  ] as const) {
    it(`exits 2 with one line and writes nothing for ${what}`, async () => {
      const dir = repository(files as Record<string, string>);
      const { code, stdout, stderr } = await cli(['convert', '--model', 'm', '--models-dir', dir]);
      assert.equal(code, 2);
      assert.equal(stdout, '');
      assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
      assert.match(stderr, message);
      assert.deepEqual(readdirSync(join(dir, 'm', '2')).sort(), Object.keys(files).sort());
    });
  }
});
