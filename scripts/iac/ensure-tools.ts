#!/usr/bin/env node
/** Run by `npm test` before the tests: installs the pinned deploy checkers (cfn-lint, checkov) into .tools/iac when missing. */
import { ensureIacTools } from './tools.ts';

try {
  ensureIacTools();
} catch (error) {
  console.error(`modelship: ${(error as Error).message}`);
  process.exit(1);
}
