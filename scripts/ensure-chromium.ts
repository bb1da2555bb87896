#!/usr/bin/env node
/**
 * Run by `npm test` before the tests: the console's browser test drives Debian's Chromium with
 * playwright-core (Playwright's own browser download does not work offline). When CHROMIUM_PATH
 * (default /usr/bin/chromium) is missing and this runs as root (or with password-less sudo) on
 * Debian, it installs the `chromium` package with apt-get; otherwise it stops with what to do.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (existsSync(path)) process.exit(0);

const root = process.getuid?.() === 0;
// Not root: sudo without a password prompt will do, where it is set up.
const sudo = !root && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
const canInstall = (root || sudo) && existsSync('/usr/bin/apt-get') && process.env.CHROMIUM_PATH === undefined;
if (!canInstall) {
  console.error(`modelship: the browser test needs Chromium at ${path}. Install it (Debian/Ubuntu: apt-get install chromium) or set CHROMIUM_PATH to a Chromium or Chrome binary.`);
  process.exit(1);
}
console.error('modelship: installing Debian\'s chromium for the browser test (apt-get, about a minute)...');
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
try {
  const aptGet = (args: string[]) =>
    sudo ? execFileSync('sudo', ['-n', 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args], { stdio: ['ignore', 'ignore', 'inherit'] }) : execFileSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env });
  aptGet(['update', '-qq']);
  aptGet(['install', '-y', '-qq', 'chromium']);
} catch (error) {
  console.error(`modelship: could not install chromium with apt-get: ${(error as Error).message}`);
  process.exit(1);
}
if (!existsSync(path)) {
  console.error(`modelship: apt-get installed chromium but ${path} is still missing`);
  process.exit(1);
}
