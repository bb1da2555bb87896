#!/usr/bin/env node
/**
 * Run by `npm test` before the tests: the Python client's tests and the SigV4 tests that sign with
 * botocore run in a virtual environment at .python/ (gitignored), with the pinned packages of
 * clients/python/requirements-test.txt and the client itself installed from clients/python (which
 * also proves `pip install ./clients/python` works). It is (re)made only when missing or when those
 * files changed. Needs python3 (3.9+) with venv; on Debian as root it installs python3-venv when missing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const venv = join(root, '.python');
const python = join(venv, 'bin', 'python');
const requirements = join(root, 'clients', 'python', 'requirements-test.txt');
const clientDir = join(root, 'clients', 'python');
const stamp = join(venv, 'modelship-stamp');

const hash = createHash('sha256');
const sources = readdirSync(clientDir, { recursive: true, encoding: 'utf8' })
  .filter((f) => !/(__pycache__|\.egg-info|^build\/|\.pytest_cache)/.test(f))
  .map((f) => join(clientDir, f))
  .filter((f) => statSync(f).isFile())
  .sort();
for (const file of sources) hash.update(file).update(readFileSync(file));
const wanted = hash.digest('hex');
if (existsSync(python) && existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted) process.exit(0);

const system = process.env.PYTHON ?? '/usr/bin/python3';
const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
try {
  if (!existsSync(python)) {
    console.error('modelship: making .python/ (a virtual environment for the Python tests, about 30 s)...');
    if (spawnSync(system, ['-c', 'import ensurepip, venv'], { stdio: 'ignore' }).status !== 0 && process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
      run('apt-get', ['update', '-qq']);
      run('apt-get', ['install', '-y', '-qq', 'python3-venv']);
    }
    rmSync(venv, { recursive: true, force: true });
    run(system, ['-m', 'venv', venv]);
  }
  run(python, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '-r', requirements]);
  if (existsSync(join(clientDir, 'pyproject.toml'))) run(python, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '--no-deps', '--force-reinstall', clientDir]);
} catch (error) {
  console.error(`modelship: could not prepare .python/ for the Python tests: ${(error as Error).message}\nNeeds ${system} (3.9+) with the venv module (Debian: apt-get install python3-venv) and access to PyPI; set PYTHON to another interpreter.`);
  process.exit(1);
}
writeFileSync(stamp, wanted);
