/**
 * The test run's own temporary folder. Every test file, and every server, CLI or browser it starts,
 * inherits TMPDIR pointing here, so what a test leaves behind (staged images, a fresh `npm ci`, data
 * folders, Chromium's logs) is removed when the run ends instead of piling up in the machine's /tmp.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let runDir: string | undefined;

export function globalSetup(): void {
  runDir = mkdtempSync(join(tmpdir(), 'modelship-test-run-'));
  process.env.TMPDIR = runDir;
}

export function globalTeardown(): void {
  if (runDir && !process.env.MODELSHIP_KEEP_TEST_TMP) rmSync(runDir, { recursive: true, force: true });
}
