/**
 * The deploy checkers AWS publishes, run over synthesized templates: cfn-lint (CloudFormation's
 * resource schemas), cfn-guard (Control Tower's proactive controls, bundled with
 * @cdklabs/cdk-validator-cfnguard from npm) and checkov (security posture, its CloudFormation
 * framework). cfn-lint and checkov come from PyPI at pinned versions, installed on first use into
 * .tools/iac (a virtual environment, or `pip install --target` where Python has no venv module).
 */
import { execFile, execFileSync, spawnSync, type StdioOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { App } from 'aws-cdk-lib';
import { ControlTowerGuardChecks, GUARD_PLUGIN_NAME } from '../../lib/guard-checks.ts';

const ROOT = join(import.meta.dirname, '..', '..');
export const CFN_LINT_VERSION = '1.58.0';
export const CHECKOV_VERSION = '3.3.30';
const CONSTRAINTS = join(import.meta.dirname, 'constraints.txt');
export const TOOLS_DIR = join(ROOT, '.tools', 'iac');
const VENV = join(TOOLS_DIR, 'venv');
const TARGET = join(TOOLS_DIR, 'site');
const STAMP = join(TOOLS_DIR, 'installed.json');

export type Tool = 'cfn-lint' | 'cfn-guard' | 'checkov';

/** One finding of one checker, on one resource of one template. */
export interface Finding {
  readonly tool: Tool;
  /** The checker's rule id: E3004, CKV_AWS_117, lambda_inside_vpc_check. */
  readonly rule: string;
  /** The template's file name. */
  readonly template: string;
  /** The resource's logical id ('' for a template-level finding). */
  readonly resource: string;
  readonly message: string;
}

export function formatFinding(f: Finding): string {
  return `${f.tool} ${f.rule} ${f.template}${f.resource ? ` ${f.resource}` : ''}: ${f.message}`;
}

interface Python {
  readonly python: string;
  readonly env: NodeJS.ProcessEnv;
}

function pins(): string {
  return createHash('sha256').update(`cfn-lint==${CFN_LINT_VERSION} checkov==${CHECKOV_VERSION}\n`).update(readFileSync(CONSTRAINTS)).digest('hex');
}

function installed(): Python | undefined {
  if (!existsSync(STAMP)) return undefined;
  const stamp = JSON.parse(readFileSync(STAMP, 'utf8')) as { pins: string; mode: 'venv' | 'target'; python: string };
  if (stamp.pins !== pins()) return undefined;
  return stamp.mode === 'venv' ? { python: join(VENV, 'bin', 'python'), env: process.env } : { python: stamp.python, env: { ...process.env, PYTHONPATH: TARGET } };
}

/**
 * Installs cfn-lint and checkov at their pinned versions (and their dependencies at the versions in
 * constraints.txt) unless that exact set is already installed. Python 3 and pip must exist
 * (PYTHON names the interpreter; default python3).
 */
export function ensureIacTools(log: (line: string) => void = (l) => console.error(l)): Python {
  const ready = installed();
  if (ready !== undefined) return ready;
  const python = process.env.PYTHON ?? 'python3';
  if (spawnSync(python, ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new Error(`the deploy checkers need Python 3 with pip: ${python} did not run. Install python3 and python3-pip, or set PYTHON to an interpreter.`);
  }
  log(`modelship: installing cfn-lint ${CFN_LINT_VERSION} and checkov ${CHECKOV_VERSION} into .tools/iac (pip, once, about 2 minutes)...`);
  rmSync(TOOLS_DIR, { recursive: true, force: true });
  mkdirSync(TOOLS_DIR, { recursive: true });
  const packages = [`cfn-lint==${CFN_LINT_VERSION}`, `checkov==${CHECKOV_VERSION}`, '--constraint', CONSTRAINTS, '--quiet', '--disable-pip-version-check', '--no-input'];
  const stdio: StdioOptions = ['ignore', 'ignore', 'inherit'];
  let mode: 'venv' | 'target';
  // A venv where the interpreter has the module (Debian's needs python3-venv), else a plain folder.
  if (spawnSync(python, ['-m', 'venv', VENV], { stdio: 'ignore' }).status === 0 && existsSync(join(VENV, 'bin', 'pip'))) {
    execFileSync(join(VENV, 'bin', 'python'), ['-m', 'pip', 'install', ...packages], { stdio });
    mode = 'venv';
  } else {
    rmSync(VENV, { recursive: true, force: true });
    execFileSync(python, ['-m', 'pip', 'install', '--target', TARGET, ...packages], { stdio });
    mode = 'target';
  }
  writeFileSync(STAMP, JSON.stringify({ pins: pins(), mode, python }));
  return installed()!;
}

const run = promisify(execFile);
const BUFFER = 256 * 1024 * 1024;

/** Runs a Python tool; exit codes that mean "findings" are answers, not failures. */
async function runPython(py: Python, args: string[], findingCodes: (code: number) => boolean): Promise<string> {
  try {
    return (await run(py.python, args, { env: py.env, cwd: ROOT, maxBuffer: BUFFER })).stdout;
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code === 'number' && findingCodes(e.code) && e.stdout) return e.stdout;
    throw new Error(`${args.slice(0, 2).join(' ')} failed (exit ${e.code}): ${e.stderr ?? ''}`.trim());
  }
}

interface CfnLintMatch {
  Filename: string;
  Level: string;
  Location: { Path?: (string | number)[] };
  Message: string;
  Rule: { Id: string };
}

/**
 * cfn-lint over the templates, in one run, with the project's .cfnlintrc.yaml (rules ignored there
 * carry their reason). Errors and warnings are findings; informational matches are not reported.
 */
export async function runCfnLint(py: Python, templates: readonly string[]): Promise<Finding[]> {
  // Exit codes are bit flags: 2 errors, 4 warnings, 8 informational.
  const out = await runPython(py, ['-c', 'import sys; from cfnlint.runner import main; sys.exit(main())', '--format', 'json', '--', ...templates], (code) => code > 0 && code < 16 && (code & 1) === 0);
  return (JSON.parse(out) as CfnLintMatch[]).map((m) => ({
    tool: 'cfn-lint' as const,
    rule: m.Rule.Id,
    template: basename(m.Filename),
    resource: m.Location.Path?.[0] === 'Resources' ? String(m.Location.Path[1]) : '',
    message: m.Message,
  }));
}

interface CheckovReport {
  check_type: string;
  results: { failed_checks: { check_id: string; check_name: string; file_path: string; resource: string }[] };
  summary: { parsing_errors: number; resource_count: number };
}

/**
 * checkov's CloudFormation framework over a folder of templates, in one run. Skips written in a
 * resource's Metadata (`checkov: skip: [{id, comment}]`) are honored by checkov itself.
 */
export async function runCheckov(py: Python, templatesDir: string): Promise<Finding[]> {
  const args = ['-c', 'import sys, warnings; warnings.simplefilter("ignore"); from checkov.main import Checkov; sys.exit(Checkov().run())', '--directory', templatesDir, '--framework', 'cloudformation', '--output', 'json', '--quiet', '--compact', '--skip-download'];
  const out = await runPython(py, args, (code) => code === 1);
  const parsed = JSON.parse(out) as CheckovReport | CheckovReport[] | { passed: number; failed: number };
  // With nothing to report on, checkov prints a bare summary.
  const reports = Array.isArray(parsed) ? parsed : 'check_type' in parsed ? [parsed] : [];
  const errors = reports.reduce((n, r) => n + r.summary.parsing_errors, 0);
  if (errors > 0) throw new Error(`checkov could not parse ${errors} template(s) in ${templatesDir}`);
  return reports.flatMap((r) =>
    r.results.failed_checks.map((c) => ({ tool: 'checkov' as const, rule: c.check_id, template: basename(c.file_path), resource: c.resource.split('.').slice(1).join('.'), message: c.check_name })),
  );
}

interface ValidationReport {
  pluginReports: { pluginName: string; violations: { ruleName: string; description: string; violatingConstructs: { constructPath?: string; cloudFormationResource?: { templatePath: string; logicalId: string } }[] }[] }[];
}

/** cfn-guard's findings from a synth's validation report (what acknowledgements left standing). */
export function guardFindingsFromReport(reportFile: string): Finding[] {
  if (!existsSync(reportFile)) return [];
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as ValidationReport;
  return report.pluginReports
    .filter((p) => p.pluginName === GUARD_PLUGIN_NAME)
    .flatMap((p) =>
      p.violations.flatMap((v) =>
        v.violatingConstructs.map((c) => ({
          tool: 'cfn-guard' as const,
          rule: v.ruleName,
          template: c.cloudFormationResource ? basename(c.cloudFormationResource.templatePath) : '',
          resource: c.cloudFormationResource?.logicalId ?? c.constructPath ?? '',
          message: v.description,
        })),
      ),
    );
}

/** cfn-guard (the same rules as at synth) over templates outside any CDK app: no acknowledgements apply. */
export function runCfnGuard(templates: readonly string[]): Finding[] {
  const report = new ControlTowerGuardChecks().validate({ templatePaths: [...templates], stackTemplates: [], appConstruct: new App() });
  return report.violations.flatMap((v) =>
    v.violatingResources.map((r) => ({ tool: 'cfn-guard' as const, rule: v.ruleName, template: basename(r.templatePath ?? ''), resource: r.resourceLogicalId ?? '', message: v.description })),
  );
}
