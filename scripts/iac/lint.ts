#!/usr/bin/env node
/**
 * `npm run lint:iac`: synthesizes the configuration matrix (scripts/iac/matrix.ts) and runs the
 * three deploy checkers over its templates, once each, printing every tool's findings. Exits 1 when
 * any tool reports a finding that no acknowledgement covers.
 */
import { matrixEntries, synthesizeMatrix } from './matrix.ts';
import { CFN_LINT_VERSION, CHECKOV_VERSION, ensureIacTools, formatFinding, runCfnLint, runCheckov, type Finding, type Tool } from './tools.ts';
import { GUARD_PLUGIN_NAME } from '../../lib/guard-checks.ts';
import { join } from 'node:path';

const py = ensureIacTools();
const started = performance.now();
const entries = matrixEntries();
for (const entry of entries) console.log(`matrix: ${entry.name} — ${entry.covers}`);
const matrix = synthesizeMatrix(entries);
const synthSeconds = (performance.now() - started) / 1000;
const templates = matrix.templates.map((t) => join(matrix.templatesDir, t));
const [lint, checkov] = await Promise.all([runCfnLint(py, templates), runCheckov(py, matrix.templatesDir)]);
const byTool: [Tool, string, Finding[]][] = [
  ['cfn-lint', CFN_LINT_VERSION, lint],
  ['cfn-guard', `${GUARD_PLUGIN_NAME} Control Tower rules, in the synth`, matrix.guard],
  ['checkov', CHECKOV_VERSION, checkov],
];
console.log(`\n${matrix.templates.length} templates (${matrix.templates.join(', ')}) in ${matrix.templatesDir}; synth with cfn-guard ${synthSeconds.toFixed(1)} s, all ${((performance.now() - started) / 1000).toFixed(1)} s`);
for (const [tool, version, findings] of byTool) {
  console.log(`\n${tool} (${version}): ${findings.length === 0 ? 'no findings' : `${findings.length} finding(s)`}`);
  for (const finding of findings) console.log(`  ${formatFinding(finding)}`);
}
process.exit(byTool.some(([, , f]) => f.length > 0) ? 1 : 0);
