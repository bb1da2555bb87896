/**
 * The Python client's pytest suite (clients/python/tests), run from npm test against the local
 * server with AUTH=iam started here; it runs in .python/ (scripts/ensure-python.ts made it, with the
 * client installed from clients/python by pip). The test fails when pytest does, with its output.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LocalStack } from '../../../lambda/entry/local-stack.ts';
import { ROOT, startTestLocalServer } from '../../helpers.ts';
import { clientTestRepository } from '../client-repository.ts';

const PYTHON = join(ROOT, '.python', 'bin', 'python');
const CREDENTIALS = { accessKeyId: 'AKIDPYTHON', secretAccessKey: 'python/secret' };

describe('modelship-client (Python)', () => {
  let local: LocalStack;
  before(async () => {
    const repo = clientTestRepository('python-client-');
    local = await startTestLocalServer(repo.dir, { iam: { credentials: CREDENTIALS } });
  });
  after(() => local?.close());

  it('passes its pytest suite against the local server with AUTH=iam', async () => {
    assert.ok(existsSync(PYTHON), 'the Python environment is missing: run node scripts/ensure-python.ts (npm test does)');
    // Async: the server the tests call runs in this process.
    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = execFile(
        PYTHON,
        ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', join(ROOT, 'clients', 'python', 'tests')],
        { cwd: join(ROOT, 'clients', 'python'), env: { PATH: process.env.PATH, HOME: join(ROOT, '.python'), MODELSHIP_TEST_URL: local.url, MODELSHIP_TEST_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, MODELSHIP_TEST_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey, MODELSHIP_TEST_ROOT: ROOT }, maxBuffer: 8 << 20 },
        (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
      );
      child.stdin?.end();
    });
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /\b15 passed\b/, result.output);
  });
});
