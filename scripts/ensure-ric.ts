#!/usr/bin/env node
/**
 * Run by `npm test` before the tests: builds AWS's Lambda Runtime Interface Client (aws-lambda-ric,
 * pinned in scripts/ric/package-lock.json) into .tools/ric for the test that runs the image's entry
 * point under it. Does nothing when that build is there (scripts/ric/install.ts).
 */
import { ensureRic } from './ric/install.ts';

try {
  ensureRic();
} catch (error) {
  console.error(`modelship: ${(error as Error).message}`);
  process.exit(1);
}
