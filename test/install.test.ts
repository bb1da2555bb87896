/**
 * A fresh `npm ci` of the project, as CI and a new user run it: no unknown-config warning from the
 * project's settings, every dependency's install script reviewed in package.json's allowScripts, and
 * onnxruntime-node's CUDA download skipped (its script is denied: CPU images need none, and installs
 * here are offline). Runs npm against the registry the project installs from, with the local cache.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from './helpers.ts';

const exec = promisify(execFile);

describe('npm ci on a fresh copy', () => {
  it('warns nothing about the project\'s config, leaves no install script unreviewed, and downloads no CUDA binaries', { timeout: 300_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelship-install-'));
    for (const file of ['package.json', 'package-lock.json', '.npmrc']) if (existsSync(join(ROOT, file))) cpSync(join(ROOT, file), join(dir, file));
    const { stderr } = await exec('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
    assert.doesNotMatch(stderr, /Unknown (project|cli) config/, stderr);
    const { stdout } = await exec('npm', ['install-scripts', 'ls'], { cwd: dir });
    assert.match(stdout, /No packages with unreviewed install scripts/);
    // Only the CPU runtime onnxruntime-node ships in its tarball; its script would add the CUDA provider.
    const binaries = readdirSync(join(dir, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64')).sort();
    assert.deepEqual(binaries.filter((name) => /cuda|tensorrt/i.test(name)), []);
    assert.ok(binaries.includes('onnxruntime_binding.node'), binaries.join(', '));
  });
});
