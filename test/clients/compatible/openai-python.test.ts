/**
 * The official openai Python client (3.51.0, pinned in clients/python/requirements-test.txt, so in
 * the .python/ environment scripts/ensure-python.ts makes) against the local server started here:
 * test_openai_python.py's pytest suite. The test fails when pytest does, with its output.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LocalStack } from '../../../lambda/entry/local-stack.ts';
import { ROOT, startTestLocalServer } from '../../helpers.ts';
import { compatTestRepository, EMBEDDER, TEXTS } from './compat-repository.ts';

const PYTHON = join(ROOT, '.python', 'bin', 'python');
const API_KEY = 'compat-python-key';

describe('the openai Python client against the local server', () => {
  let local: LocalStack;
  let keyed: LocalStack;
  before(async () => {
    const repo = compatTestRepository('openai-python-');
    local = await startTestLocalServer(repo.dir);
    keyed = await startTestLocalServer(repo.dir, { apiKey: API_KEY });
  });
  after(async () => {
    await local?.close();
    await keyed?.close();
  });

  it('passes test_openai_python.py', async () => {
    assert.ok(existsSync(PYTHON), 'the Python environment is missing: run node scripts/ensure-python.ts (npm test does)');
    // Async: the servers the tests call run in this process.
    const env = { PATH: process.env.PATH, HOME: join(ROOT, '.python'), PYTHONDONTWRITEBYTECODE: '1', COMPAT_TEST_URL: local.url, COMPAT_TEST_KEYED_URL: keyed.url, COMPAT_TEST_API_KEY: API_KEY, COMPAT_TEST_MODEL: EMBEDDER, COMPAT_TEST_TEXTS: JSON.stringify(TEXTS) };
    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      execFile(PYTHON, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', join(import.meta.dirname, 'test_openai_python.py')], { cwd: import.meta.dirname, env, maxBuffer: 8 << 20 }, (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
      );
    });
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /\b6 passed\b/, result.output);
  });
});
