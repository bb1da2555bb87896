/**
 * modelship invoke against the local server with AUTH=iam: signs by default with credentials from
 * the environment (the SDK's default chain), prints the answer of v2 JSON, rows, a text and an
 * image; a failed call is one line with the status and the request id. The command runs as a
 * process where that matters (signing from the environment, printing, exit codes); the rest calls
 * its function, to keep the test short.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { invoke } from '../../cli/invoke.ts';
import type { LocalStack } from '../../lambda/entry/local-stack.ts';
import { ROOT, startTestLocalServer, TempRepository } from '../helpers.ts';

const CREDENTIALS = { accessKeyId: 'AKIDINVOKE', secretAccessKey: 'invoke/secret' };

describe('modelship invoke', () => {
  let local: LocalStack;
  before(async () => {
    const repo = new TempRepository('invoke-').sample('iris_forest').sample('debian_sections').sample('text_orientation').fixture('identity_int64');
    local = await startTestLocalServer(repo.dir, { iam: { credentials: CREDENTIALS } });
  });
  after(() => local?.close());

  // Async: the server answering the CLI runs in this process.
  const cli = async (args: string[], env: Record<string, string> = { AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey }) => {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(ROOT, 'bin', 'cli.ts'), 'invoke', '--url', local.url, ...args], { cwd: ROOT, env: { PATH: process.env.PATH, HOME: join(ROOT, '.python'), AWS_REGION: 'us-east-1', ...env } });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  it('signs by default with credentials from the environment, and prints the v2 answer', async () => {
    const v2 = await cli(['--model', 'iris_forest', '--json', '{"inputs":[{"name":"features","datatype":"FP32","shape":[1,4],"data":[5.1,3.5,1.4,0.2]}],"id":"cli-1"}']);
    assert.equal(v2.code, 0, v2.stderr);
    const answer = JSON.parse(v2.stdout) as { model_name: string; id: string; outputs: { name: string; data: number[] }[] };
    assert.deepEqual([answer.model_name, answer.id, answer.outputs.find((o) => o.name === 'label')?.data], ['iris_forest', 'cli-1', [0]]);
  });

  it('classifies an image given as a file', async () => {
    const image = await cli(['--model', 'text_orientation', '--image', join(ROOT, 'test', 'fixtures', 'images', 'line-1-180.png')]);
    assert.equal((JSON.parse(image.stdout) as { label: string }[])[0].label, '180');
  });

  it('prints one line with the status and request id for a refused call, and exits 1', async () => {
    const unsigned = await cli(['--model', 'iris_forest', '--auth', 'none', '--json', '{"instances":[[1,2,3,4]]}']);
    assert.deepEqual([unsigned.code, unsigned.stdout], [1, '']);
    assert.match(unsigned.stderr, /^modelship: Missing Authentication Token \(HTTP 403, request id [\w-]{36}\)\n$/);
  });

  describe('in process', () => {
    before(() => {
      process.env.AWS_ACCESS_KEY_ID = CREDENTIALS.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = CREDENTIALS.secretAccessKey;
    });
    const run = (options: Parameters<typeof invoke>[0]) => invoke({ url: local.url, region: 'us-east-1', ...options });

    it('prints INT64 exactly, :predict rows and a text\'s labels', async () => {
      const big = await run({ model: 'identity_int64', json: '{"inputs":[{"name":"x","datatype":"INT64","shape":[1,2],"data":["9007199254740993","-9223372036854775808"]}]}' });
      assert.match(big, /"data":\[9007199254740993,-9223372036854775808\]/);
      assert.deepEqual(JSON.parse(await run({ model: 'iris_forest', json: '{"instances":[[5.1,3.5,1.4,0.2]]}' })), [{ label: 'setosa', probabilities: [1.0000001192092896, 0, 0] }]);
      const labels = JSON.parse(await run({ model: 'debian_sections', text: 'multiplayer puzzle game with cute monsters', topK: '2' })) as { label: string }[];
      assert.deepEqual([labels.length, labels[0].label], [2, 'games']);
    });

    it('names bad arguments, and passes the server\'s 400 on', async () => {
      await assert.rejects(run({ model: 'iris_forest' }), /^Error: invoke needs exactly one of --json, --image or --text$/);
      await assert.rejects(run({ model: 'iris_forest', json: '{' }), /^Error: --json is not valid JSON/);
      await assert.rejects(run({ model: 'iris_forest', text: 'x', topK: '0' }), /^Error: --top-k must be a positive integer, got "0"$/);
      await assert.rejects(run({ model: 'iris_forest', json: '{"instances":[[1,2]]}' }), (e: Error & { status?: number }) => e.status === 400);
    });
  });
});
