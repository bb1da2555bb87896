/**
 * AWS's Lambda Runtime Interface Client for Node.js (`aws-lambda-ric`, what Lambda's Node.js base
 * images run as their entry point), installed for test/lambda/entry/ric.test.ts into .tools/ric.
 *
 * The npm package ships no prebuilt native client: its install scripts compile curl and
 * aws-lambda-cpp from the sources it bundles (cmake, make, a C++ compiler), then its
 * `rapid-client.node` addon with node-gyp. The project's own `npm ci` does not run them, so this
 * runs them once, in a folder of their own, from the exact versions in scripts/ric/package-lock.json;
 * a stamp of those files and the Node headers used makes a second run do nothing. About a minute on
 * two cores (measured here: 60 s wall with `nice` on a busy machine).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const PINS = import.meta.dirname;
export const RIC_VERSION = JSON.parse(readFileSync(join(PINS, 'package.json'), 'utf8')).dependencies['aws-lambda-ric'] as string;
export const RIC_DIR = join(ROOT, '.tools', 'ric');
/** The client's entry point: what the base image's ENTRYPOINT runs (`aws-lambda-ric <handler>`). */
export const RIC_ENTRY = join(RIC_DIR, 'node_modules', 'aws-lambda-ric', 'index.mjs');
const NATIVE = join(RIC_DIR, 'node_modules', 'aws-lambda-ric', 'rapid-client.node');
const STAMP = join(RIC_DIR, 'installed.json');

/** What the build needs on PATH, and the Debian package that provides it. */
const BUILD_TOOLS: Record<string, string> = { cmake: 'cmake', make: 'make', 'g++': 'g++', xz: 'xz-utils', python3: 'python3' };

/**
 * Node's C headers for node-gyp, which would otherwise download them (no internet here). The
 * addon uses Node-API, whose ABI is stable across Node versions, so the running Node's own headers
 * (shipped by the `node` npm package's platform package) are preferred and Debian's are the fallback.
 */
function nodeHeaders(): string | undefined {
  const platform = `node-${process.platform}-${process.arch}`;
  const candidates = [
    process.env.npm_config_nodedir,
    join(ROOT, 'node_modules', 'node', 'node_modules', platform),
    join(ROOT, 'node_modules', platform),
    dirname(dirname(realpathSync(process.execPath))),
    '/usr',
  ];
  return candidates.find((dir) => dir !== undefined && existsSync(join(dir, 'include', 'node', 'node_api.h')));
}

function wanted(headers: string): string {
  return createHash('sha256')
    .update(readFileSync(join(PINS, 'package.json')))
    .update(readFileSync(join(PINS, 'package-lock.json')))
    .update(`${headers}\n${process.platform}-${process.arch}`)
    .digest('hex');
}

/** Whether the pinned client is built here already (the stamp matches and the addon exists). */
export function ricReady(): boolean {
  const headers = nodeHeaders();
  return headers !== undefined && existsSync(NATIVE) && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === wanted(headers);
}

const has = (command: string) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;

/** Installs the build tools that are missing with apt-get (as root on Debian), or says what to install. */
function ensureBuildTools(log: (line: string) => void): void {
  const missing = Object.entries(BUILD_TOOLS).filter(([command]) => !has(command));
  if (missing.length === 0) return;
  const packages = missing.map(([, pkg]) => pkg);
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    throw new Error(`building aws-lambda-ric needs ${missing.map(([c]) => c).join(', ')}: install them (Debian/Ubuntu: apt-get install ${packages.join(' ')})`);
  }
  log(`modelship: installing ${packages.join(' ')} with apt-get to build aws-lambda-ric...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const stdio = ['ignore', 'ignore', 'inherit'] as const;
  execFileSync('apt-get', ['update', '-qq'], { stdio: [...stdio], env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: [...stdio], env });
}

/** Builds aws-lambda-ric at the pinned version into .tools/ric unless that exact build is there. */
export function ensureRic(log: (line: string) => void = (l) => console.error(l)): void {
  if (ricReady()) return;
  ensureBuildTools(log);
  const headers = nodeHeaders();
  if (headers === undefined) throw new Error("building aws-lambda-ric needs Node's C headers (include/node/node_api.h): reinstall the `node` devDependency (npm ci), install Debian's nodejs, or set npm_config_nodedir");
  log(`modelship: building aws-lambda-ric ${RIC_VERSION} (curl, aws-lambda-cpp and its native client) into .tools/ric, once, about a minute...`);
  const started = Date.now();
  rmSync(RIC_DIR, { recursive: true, force: true });
  mkdirSync(RIC_DIR, { recursive: true });
  for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(PINS, file), join(RIC_DIR, file));
  // The running Node first on PATH: the package's scripts and node-gyp run under it.
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, npm_config_nodedir: headers, npm_config_update_notifier: 'false' };
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--foreground-scripts'], { cwd: RIC_DIR, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0 || !existsSync(NATIVE)) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.split('\n').filter((line) => !line.startsWith('tar: Ignoring unknown extended header')).slice(-30).join('\n');
    throw new Error(`building aws-lambda-ric ${RIC_VERSION} failed (npm ci in .tools/ric, exit ${result.status ?? result.signal}):\n${output}`);
  }
  writeFileSync(STAMP, wanted(headers));
  log(`modelship: aws-lambda-ric ${RIC_VERSION} built in ${Math.round((Date.now() - started) / 1000)} s`);
}
