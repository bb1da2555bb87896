/**
 * `modelship doctor`: before a deploy, what in this machine, this repository or the AWS account's
 * default quotas would break it, each with its fix. It reads the repository as `cdk synth` does
 * (lib/model-discovery.ts) and the settings from cdk.json's context; it calls no AWS API, so an
 * account quota is stated as what the repository needs against AWS's documented default.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { sageMakerConfigSchema, sageMakerServerlessConfigSchema } from '../lambda/core/config.ts';
import { hasSharpBinaries, PROJECT_ROOT, sharpInstallLine, takesImagesOnDisk } from '../lib/image-context.ts';
import { FUNCTION_DEFAULTS } from '../lib/inference-function.ts';
import { discoverModels, type DiscoveredModel } from '../lib/model-discovery.ts';
import { readSettings, type ModelShipSettings } from '../lib/settings.ts';

export type Level = 'ok' | 'warning' | 'error';

export interface DoctorFinding {
  readonly level: Level;
  /** What was checked: docker, memory, concurrency, sagemaker, sharp. */
  readonly check: string;
  readonly message: string;
  /** What to do about it (warnings and errors). */
  readonly fix?: string;
}

/** Lambda's largest memory setting, and the most a function can use for models. */
export const LAMBDA_MAX_MEMORY_MB = 10_240;
/** Lambda's default concurrent executions per account and Region; 100 of them can never be reserved. */
export const LAMBDA_DEFAULT_CONCURRENCY = 1000;
export const LAMBDA_UNRESERVED_MINIMUM = 100;
/** SageMaker Serverless: the documented default total concurrency per Region, and endpoints per Region. */
export const SERVERLESS_DEFAULT_TOTAL_CONCURRENCY = 200;
export const SERVERLESS_DEFAULT_ENDPOINTS = 50;
/**
 * What a function needs beside its models: Node.js, onnxruntime and the handler (measured RSS of
 * the inference function at rest is about 150 MB; rounded up).
 */
const RUNTIME_BASELINE_MB = 256;
const MIB = 1024 * 1024;

export interface DockerStatus {
  readonly available: boolean;
  readonly detail: string;
}

/** Whether the Docker daemon answers, through the CLI the CDK uses (CDK_DOCKER, default docker). */
export function probeDocker(env: NodeJS.ProcessEnv = process.env): DockerStatus {
  const cli = env.CDK_DOCKER ?? 'docker';
  const result = spawnSync(cli, ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', env, timeout: 20_000 });
  if (result.error !== undefined) return { available: false, detail: `${cli} is not installed (${(result.error as NodeJS.ErrnoException).code ?? result.error.message})` };
  if (result.status !== 0) return { available: false, detail: `${cli} is installed but its daemon does not answer: ${(result.stderr || result.stdout).trim().split('\n').at(-1)}` };
  return { available: true, detail: `${cli} ${result.stdout.trim()}` };
}

function folderBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).reduce((sum, f) => {
    const s = statSync(join(dir, f));
    return s.isFile() ? sum + s.size : sum;
  }, 0);
}

/** The versions a Lambda function may load for a model: its live version, A/B arms and shadow. */
function servedVersions(model: DiscoveredModel): number[] {
  const versions = new Set([model.liveVersion, ...Object.keys(model.config.abTest?.weights ?? {}).map(Number)]);
  if (model.config.shadow !== undefined) versions.add(model.config.shadow.version);
  return [...versions].sort((a, b) => a - b);
}

const mb = (bytes: number) => Math.ceil(bytes / MIB);

export interface DoctorInput {
  readonly modelsDir: string;
  readonly models: readonly DiscoveredModel[];
  readonly settings: ModelShipSettings;
  readonly docker: DockerStatus;
  /** Whether sharp's native packages for an architecture are installed. @default hasSharpBinaries */
  readonly hasSharp?: (architecture: ModelShipSettings['architecture']) => boolean;
}

export function diagnose(input: DoctorInput): DoctorFinding[] {
  const { models, settings, modelsDir } = input;
  const findings: DoctorFinding[] = [];
  const lambdaModels = models.filter((m) => m.config.target === 'lambda');
  const sageMakerModels = models.filter((m) => m.config.target !== 'lambda');

  // Docker builds the function image and the SageMaker image at deploy.
  if (input.docker.available) findings.push({ level: 'ok', check: 'docker', message: `${input.docker.detail} answers: the image assets can be built` });
  else {
    findings.push({
      level: 'error',
      check: 'docker',
      message: `Docker is needed to build the ${[lambdaModels.length > 0 ? 'Lambda function image' : '', sageMakerModels.length > 0 ? 'SageMaker image' : ''].filter(Boolean).join(' and ')} at deploy, and ${input.docker.detail}`,
      fix: 'install Docker (or Finch/Podman with CDK_DOCKER naming its CLI) and start its daemon, then run cdk deploy again; cdk synth needs none',
    });
  }

  // Memory: a function holds each model it serves in memory (the file's bytes, then the session's copy).
  const groups = new Map<string, DiscoveredModel[]>();
  for (const m of lambdaModels) groups.set(m.config.functionGroup ?? m.name, [...(groups.get(m.config.functionGroup ?? m.name) ?? []), m]);
  for (const [name, members] of groups) {
    const bytes = members.reduce((sum, m) => sum + servedVersions(m).reduce((s, v) => s + folderBytes(join(modelsDir, m.name, String(v))), 0), 0);
    const needMb = RUNTIME_BASELINE_MB + 2 * mb(bytes);
    const memoryMb = Math.max(...members.map((m) => m.config.memorySizeMb ?? FUNCTION_DEFAULTS.memorySizeMb));
    const what = members.length > 1 ? `function group ${name} (${members.map((m) => m.name).join(', ')})` : `model ${name}`;
    const versions = members.map((m) => `${m.name} ${servedVersions(m).join('+')}`).join(', ');
    if (needMb > LAMBDA_MAX_MEMORY_MB) {
      findings.push({
        level: 'error',
        check: 'memory',
        message: `${what}: ${mb(bytes)} MB of model files (${versions}) need about ${needMb} MB of memory, over Lambda's ${LAMBDA_MAX_MEMORY_MB} MB`,
        fix: members.length > 1 ? 'split the group (fewer models per functionGroup), or move the largest models to "target": "sagemaker"' : `set "target": "sagemaker" in models/${name}/config.json (a GPU endpoint holds larger models), or shrink it with modelship optimize --int8`,
      });
    } else if (needMb > memoryMb) {
      findings.push({
        level: 'error',
        check: 'memory',
        message: `${what}: ${mb(bytes)} MB of model files (${versions}) need about ${needMb} MB of memory; the function has ${memoryMb} MB and would fail to load them`,
        fix: `set "memorySizeMb": ${Math.min(LAMBDA_MAX_MEMORY_MB, Math.ceil(needMb / 64) * 64)} in the config.json of ${members.length > 1 ? `a model of ${name}` : `models/${name}`}`,
      });
    }
  }
  if (!findings.some((f) => f.check === 'memory') && groups.size > 0) findings.push({ level: 'ok', check: 'memory', message: `each of ${groups.size} function(s) has the memory its models need` });

  // Account concurrency: reserved and provisioned concurrency come out of one regional pool.
  const reserved = lambdaModels.reduce((s, m) => s + (m.config.reservedConcurrency ?? 0), 0);
  const provisioned = lambdaModels.reduce((s, m) => s + (m.config.provisionedConcurrency ?? 0), 0);
  const reservable = LAMBDA_DEFAULT_CONCURRENCY - LAMBDA_UNRESERVED_MINIMUM;
  const concurrency = `needs ${reserved} reserved and ${provisioned} provisioned concurrent executions (${reserved + provisioned} in all); AWS's default quota is ${LAMBDA_DEFAULT_CONCURRENCY} per Region, of which ${reservable} can be set aside (${LAMBDA_UNRESERVED_MINIMUM} stay unreserved)`;
  if (reserved + provisioned > reservable) {
    findings.push({ level: 'error', check: 'concurrency', message: `the repository ${concurrency}`, fix: `request a higher "Concurrent executions" quota (Service Quotas → AWS Lambda) of at least ${reserved + provisioned + LAMBDA_UNRESERVED_MINIMUM}, or lower reservedConcurrency/provisionedConcurrency in the models' config.json` });
  } else {
    findings.push({ level: 'ok', check: 'concurrency', message: `the repository ${concurrency}; some new accounts start lower: check "Concurrent executions" in Service Quotas → AWS Lambda` });
  }

  // SageMaker: instances per type at the autoscaling ceiling, and Serverless concurrency.
  const instances = new Map<string, number>();
  let serverlessConcurrency = 0;
  let serverlessEndpoints = 0;
  for (const m of sageMakerModels) {
    if (m.config.target === 'sagemaker') {
      const c = sageMakerConfigSchema.parse(m.config.sagemaker ?? {});
      instances.set(c.instanceType, (instances.get(c.instanceType) ?? 0) + c.maxInstanceCount);
    } else {
      serverlessConcurrency += sageMakerServerlessConfigSchema.parse(m.config.sagemakerServerless ?? {}).maxConcurrency;
      serverlessEndpoints++;
    }
  }
  for (const [type, count] of [...instances].sort()) {
    findings.push({
      level: 'warning',
      check: 'sagemaker',
      message: `needs up to ${count} × ${type} for endpoint usage (the sum of maxInstanceCount); AWS's default for GPU instance types is often 0 in a new account, and an endpoint over its quota fails to create`,
      fix: `check Service Quotas → Amazon SageMaker → "${type} for endpoint usage" and request at least ${count}`,
    });
  }
  if (serverlessEndpoints > 0) {
    const over = serverlessConcurrency > SERVERLESS_DEFAULT_TOTAL_CONCURRENCY || serverlessEndpoints > SERVERLESS_DEFAULT_ENDPOINTS;
    findings.push({
      level: over ? 'error' : 'warning',
      check: 'sagemaker',
      message: `needs ${serverlessEndpoints} Serverless endpoint(s) with a total maxConcurrency of ${serverlessConcurrency}; AWS documents defaults of ${SERVERLESS_DEFAULT_ENDPOINTS} endpoints and ${SERVERLESS_DEFAULT_TOTAL_CONCURRENCY} total concurrency per Region (some new accounts start at 10)`,
      fix: `check Service Quotas → Amazon SageMaker → "Maximum total concurrency that can be allocated across all serverless endpoints" (at least ${serverlessConcurrency}) and the serverless endpoint count (at least ${serverlessEndpoints})`,
    });
  }

  // Image models decode with sharp, whose native packages must match the functions' architecture.
  const imageModels = lambdaModels.filter((m) => m.versions.some((v) => takesImagesOnDisk(join(modelsDir, m.name, String(v)), m.config)));
  if (imageModels.length > 0) {
    const hasSharp = input.hasSharp ?? hasSharpBinaries;
    if (hasSharp(settings.architecture)) findings.push({ level: 'ok', check: 'sharp', message: `sharp's ${settings.architecture} native packages are installed for the image models` });
    else {
      findings.push({
        level: 'error',
        check: 'sharp',
        message: `image models (${imageModels.map((m) => m.name).join(', ')}) on ${settings.architecture} need sharp's native packages for that architecture, which npm did not install here (it installs this machine's own)`,
        fix: sharpInstallLine(settings.architecture),
      });
    }
  }
  return findings;
}

export function formatDoctor(findings: readonly DoctorFinding[]): string {
  const mark = { ok: 'ok  ', warning: 'warn', error: 'FAIL' } as const;
  const lines = findings.map((f) => `${mark[f.level]} ${f.check}: ${f.message}${f.fix !== undefined ? `\n     fix: ${f.fix}` : ''}`);
  const errors = findings.filter((f) => f.level === 'error').length;
  const warnings = findings.filter((f) => f.level === 'warning').length;
  lines.push(errors > 0 ? `${errors} problem(s) would break the deploy; ${warnings} to check` : `nothing found that would break the deploy; ${warnings} to check`);
  return lines.join('\n');
}

/**
 * The doctor for this project: settings from cdk.json's context with `-c key=value` overrides (as
 * `cdk deploy -c` takes them), the repository they name (or --models-dir), Docker as the CDK finds it.
 */
export function doctorForProject(options: { modelsDir?: string; context?: readonly string[]; docker?: DockerStatus } = {}): DoctorFinding[] {
  const context: Record<string, unknown> = { ...(JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context };
  for (const pair of options.context ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`-c takes key=value (as cdk deploy -c does), got "${pair}"`);
    context[pair.slice(0, at)] = pair.slice(at + 1);
  }
  if (options.modelsDir !== undefined) context['modelship:modelsDir'] = options.modelsDir;
  const settings = readSettings(new App({ context }).node);
  const modelsDir = resolve(PROJECT_ROOT, settings.modelsDir);
  return diagnose({ modelsDir, models: discoverModels(modelsDir), settings, docker: options.docker ?? probeDocker() });
}
