#!/usr/bin/env node
/**
 * modelship <command>: operations from the terminal.
 *   ab-report --model NAME (--events FILE | --cloudwatch [--hours 24]) [--control V] [--alpha 0.05] [--power 0.8] [--mde 0.02]
 *   rollback --model NAME --to VERSION [--models-dir models]
 *   promote --model NAME --version VERSION [--models-dir models]   (makes a version, e.g. an optimized candidate, the live one)
 *   batch --model NAME --input FILE|s3://BUCKET/batch/input/NAME/FILE [--work-dir .local] [--lines-per-chunk 5000] [--batch-size 256]
 *   batch-status --model NAME --job JOB [--work-dir .local | --bucket BUCKET]
 *   drift --model NAME --captures FILE|DIR [--version V] [--psi 0.2] [--models-dir models]   (exit 3 when a feature drifted;
 *         a DIR is read for *.jsonl files at any depth, e.g. .local/captures/<model>/<version>/)
 *   optimize --model NAME (--int8 | --fp16 | --graph) [--from V] [--to V] [--op-types MatMul,Gemm,Conv,Gather] [--exclude NODE,...]
 *         [--reduce-range] [--level basic|extended] [--models-dir models]   (writes the next version folder)
 *   convert --model NAME [--version V] [--models-dir models]   (model.json / model.ubj / model.txt → model.onnx + conversion.json beside it)
 *   doctor [--models-dir models] [-c modelship:key=value ...]   (before a deploy: what would break it, each with the fix; exit 1 on a problem)
 *   invoke --url URL --model NAME [--version V] (--json '{...}' | --image FILE | --text "...") [--top-k K] [--auth iam|apiKey|none]
 *         [--api-key KEY] [--region R] [--timeout-ms MS]   (signs with SigV4 by default; prints the answer as JSON)
 * Models come from MODEL_DIR (default ./models) or MODEL_BUCKET; S3_ENDPOINT points at an S3-compatible store.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { S3Client } from '@aws-sdk/client-s3';
import { armsFromCloudWatch, armsFromEventsFile, formatAbReport } from '../cli/ab-report.ts';
import { driftReport, formatDriftReport, rowsFromCaptures, type Baseline } from '../lambda/jobs/drift.ts';
import { pinVersion } from '../cli/rollback.ts';
import { liveVersion, promote, promotionHint } from '../cli/promote.ts';
import { INPUT_PREFIX, readManifest, runJob } from '../lambda/jobs/batch-job.ts';
import { DirectoryBatchStore, S3BatchStore, type BatchStore } from '../lambda/stores/batch-store.ts';
import { createRepository, createService, readRuntimeConfig } from '../lambda/entry/runtime-config.ts';
import { formatOptimization, optimize } from '../cli/optimize/optimize.ts';
import { QUANTIZABLE_OPS } from '../cli/optimize/quantize.ts';
import { convertVersionFolder, formatConversion } from '../cli/convert.ts';
import { doctorForProject, formatDoctor } from '../cli/doctor.ts';
import { invoke } from '../cli/invoke.ts';
import { ModelShipError } from '../clients/typescript/src/index.ts';
import { convertNativeModel } from '../lambda/convert/registry.ts';

import { silentLogger } from '../lambda/core/logger.ts';

const USAGE = `usage:
  modelship ab-report --model NAME (--events FILE | --cloudwatch [--hours 24]) [--control V] [--alpha 0.05] [--power 0.8] [--mde 0.02]
  modelship rollback --model NAME --to VERSION [--models-dir models]
  modelship promote --model NAME --version VERSION [--models-dir models]
  modelship batch --model NAME --input FILE|s3://BUCKET/batch/input/NAME/FILE [--work-dir .local] [--lines-per-chunk 5000] [--batch-size 256]
  modelship batch-status --model NAME --job JOB [--work-dir .local | --bucket BUCKET]
  modelship drift --model NAME --captures FILE|DIR [--version V] [--psi 0.2] [--models-dir models]
  modelship optimize --model NAME (--int8 | --fp16 | --graph) [--from V] [--to V] [--op-types MatMul,Gemm,Conv,Gather] [--exclude NODE,...] [--reduce-range] [--level basic|extended] [--models-dir models]
  modelship convert --model NAME [--version V] [--models-dir models]
  modelship doctor [--models-dir models] [-c modelship:key=value ...]
  modelship invoke --url URL --model NAME [--version V] (--json '{...}' | --image FILE | --text "...") [--top-k K] [--auth iam|apiKey|none] [--api-key KEY] [--region R] [--timeout-ms MS]`;

/** A command line that is missing something: answered with the usage. Every other error is one line. */
class UsageError extends Error {}

function number(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got "${value}"`);
  return n;
}

/** Every *.jsonl file under a folder, at any depth, in name order. */
function jsonlFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.jsonl'))
    .sort()
    .map((name) => join(dir, name));
}

const s3Client = () => (process.env.S3_ENDPOINT ? new S3Client({ endpoint: process.env.S3_ENDPOINT, forcePathStyle: true }) : new S3Client({}));

/** A local file is copied into the work dir's batch/input/<model>/; an s3:// URL is used in place. */
async function batchInput(input: string, model: string, workDir: string): Promise<{ store: BatchStore; key: string }> {
  const s3 = /^s3:\/\/([^/]+)\/(.+)$/.exec(input);
  if (s3 !== null) return { store: new S3BatchStore(s3Client(), s3[1]), key: s3[2] };
  if (!existsSync(input)) throw new Error(`input file ${input} does not exist`);
  const key = `${INPUT_PREFIX}${model}/${basename(input)}`;
  mkdirSync(dirname(join(workDir, key)), { recursive: true });
  copyFileSync(input, join(workDir, key));
  return { store: new DirectoryBatchStore(workDir), key };
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      model: { type: 'string' }, events: { type: 'string' }, cloudwatch: { type: 'boolean' }, hours: { type: 'string' },
      control: { type: 'string' }, alpha: { type: 'string' }, power: { type: 'string' }, mde: { type: 'string' },
      to: { type: 'string' }, 'models-dir': { type: 'string' },
      input: { type: 'string' }, 'work-dir': { type: 'string' }, 'lines-per-chunk': { type: 'string' }, 'batch-size': { type: 'string' },
      job: { type: 'string' }, bucket: { type: 'string' }, captures: { type: 'string' }, version: { type: 'string' }, psi: { type: 'string' },
      int8: { type: 'boolean' }, fp16: { type: 'boolean' }, graph: { type: 'boolean' }, from: { type: 'string' }, 'op-types': { type: 'string' }, exclude: { type: 'string' },
      'reduce-range': { type: 'boolean' }, level: { type: 'string' }, 'weight-bits': { type: 'string' },
      url: { type: 'string' }, json: { type: 'string' }, image: { type: 'string' }, text: { type: 'string' }, 'top-k': { type: 'string' },
      context: { type: 'string', short: 'c', multiple: true },
      auth: { type: 'string' }, 'api-key': { type: 'string' }, region: { type: 'string' }, 'timeout-ms': { type: 'string' },
    },
    strict: true,
  });
  if (command === 'ab-report') {
    if (!values.model) throw new UsageError('ab-report needs --model');
    if (!values.events === !values.cloudwatch) throw new UsageError('ab-report needs either --events FILE or --cloudwatch');
    const hours = number(values.hours, 'hours', 24);
    const arms = values.events
      ? await armsFromEventsFile(values.events, values.model)
      : await armsFromCloudWatch(new CloudWatchClient({}), values.model, new Date(Date.now() - hours * 3_600_000), new Date());
    console.log(formatAbReport(values.model, arms, { control: values.control, alpha: number(values.alpha, 'alpha', 0.05), power: number(values.power, 'power', 0.8), minimumDetectableEffect: number(values.mde, 'mde', 0.02) }));
  } else if (command === 'rollback') {
    if (!values.model || !values.to) throw new UsageError('rollback needs --model and --to');
    const version = Number(values.to);
    if (!Number.isInteger(version) || version < 1) throw new Error(`--to must be a positive integer version, got "${values.to}"`);
    const file = pinVersion(values['models-dir'] ?? 'models', values.model, version);
    console.log(`${file}: versionPolicy pinned to ${version}. Run \`npx cdk deploy\` to ship it (CodeDeploy shifts traffic back).`);
  } else if (command === 'promote') {
    if (!values.model || !values.version) throw new UsageError('promote needs --model and --version');
    if (!/^[1-9]\d*$/.test(values.version)) throw new Error(`--version must be a positive integer version, got "${values.version}"`);
    const version = Number(values.version);
    const { file, previous } = promote(values['models-dir'] ?? 'models', values.model, version);
    console.log(`${values.model}: version ${version} is now the live version${previous !== undefined && previous !== version ? ` (it was ${previous})` : ''}: versionPolicy pinned to ${version} in ${file}.`);
    console.log('Deployed: npx cdk deploy ships it: the golden gate checks it before any traffic moves, then traffic shifts as config.json\'s "deployment" says (a 10% canary for 5 minutes by default), rolled back if an alarm fires.');
    console.log('Locally: restart npm start to serve it on the plain routes.');
  } else if (command === 'batch') {
    if (!values.model || !values.input) throw new UsageError('batch needs --model and --input');
    const { store, key } = await batchInput(values.input, values.model, values['work-dir'] ?? '.local');
    const config = readRuntimeConfig(process.env, { modelDir: 'models' });
    const service = createService(config, createRepository(config, undefined, { convertNative: convertNativeModel }));
    const started = performance.now();
    const manifest = await runJob(store, service, key, {
      linesPerChunk: number(values['lines-per-chunk'], 'lines-per-chunk', 5000),
      batchSize: number(values['batch-size'], 'batch-size', 256),
      onProgress: (done, total) => process.stderr.write(`\r[${'#'.repeat(Math.round((30 * done) / total)).padEnd(30, '.')}] ${done}/${total} chunks`),
    });
    process.stderr.write('\n');
    if (manifest.status === 'failed') throw new Error(`job ${manifest.job} failed: ${manifest.error}`);
    const seconds = (performance.now() - started) / 1000;
    console.log(`Scored ${manifest.succeeded} of ${manifest.rows} rows with ${values.model} version ${manifest.version} in ${seconds.toFixed(2)} s (${Math.round(manifest.rows / seconds)} rows/s); ${manifest.failed === 0 ? 'no line was rejected' : `${manifest.failed} line(s) rejected`}.`);
    console.log(`The predictions, one line per input line in input order, are in ${store.where(manifest.results)}`);
    console.log(manifest.failed === 0 ? `Rejected lines would be listed, with the reason, in ${store.where(manifest.errors)} (empty)` : `The rejected lines, each with the reason, are in ${store.where(manifest.errors)}`);
    console.log(`Job ${manifest.job}: npm run cli -- batch-status --model ${values.model} --job ${manifest.job}${store instanceof S3BatchStore ? ` --bucket ${store.location.slice('s3://'.length)}` : ''}`);
  } else if (command === 'batch-status') {
    if (!values.model || !values.job) throw new UsageError('batch-status needs --model and --job');
    const store = values.bucket ? new S3BatchStore(s3Client(), values.bucket) : new DirectoryBatchStore(values['work-dir'] ?? '.local');
    const manifest = await readManifest(store, values.model, values.job);
    if (manifest === undefined) throw new Error(`no job ${values.job} for model ${values.model} in ${store.location}`);
    console.log(JSON.stringify(manifest, null, 2));
  } else if (command === 'drift') {
    if (!values.model || !values.captures) throw new UsageError('drift needs --model and --captures');
    const dir = join(values['models-dir'] ?? 'models', values.model);
    if (!existsSync(dir)) throw new Error(`no model "${values.model}" in ${values['models-dir'] ?? 'models'}`);
    const version = values.version ? Number(values.version) : Math.max(...readdirSync(dir).filter((v) => /^[1-9]\d*$/.test(v)).map(Number));
    const baselineFile = join(dir, String(version), 'baseline.json');
    if (!existsSync(baselineFile)) throw new Error(`model "${values.model}" version ${version} has no baseline.json (the training script writes it)`);
    const threshold = number(values.psi, 'psi', 0.2);
    if (!existsSync(values.captures)) throw new Error(`no captures file or folder at ${values.captures}`);
    const files = statSync(values.captures).isDirectory() ? jsonlFiles(values.captures) : [values.captures];
    if (files.length === 0) throw new Error(`no .jsonl capture files under ${values.captures}`);
    const baseline = JSON.parse(readFileSync(baselineFile, 'utf8')) as Baseline;
    const rows = files.flatMap((file) => rowsFromCaptures(readFileSync(file, 'utf8'), file, baseline));
    const report = driftReport(baseline, rows, threshold);
    console.log(formatDriftReport(values.model, version, report, rows.length, threshold));
    if (report.some((f) => f.drifted)) process.exitCode = 3;
  } else if (command === 'optimize') {
    if (!values.model) throw new UsageError('optimize needs --model');
    const modes = (['int8', 'fp16', 'graph'] as const).filter((m) => values[m]);
    if (modes.length !== 1) throw new UsageError('optimize needs exactly one of --int8, --fp16 or --graph');
    const version = (flag: 'from' | 'to') => {
      const text = values[flag];
      if (text === undefined) return undefined;
      if (!/^[1-9]\d*$/.test(text)) throw new Error(`--${flag} must be a positive integer version, got "${text}"`);
      return Number(text);
    };
    if (values.level !== undefined && values.level !== 'basic' && values.level !== 'extended') throw new Error(`--level must be basic or extended (portable levels), got "${values.level}"`);
    const opTypes = values['op-types']?.split(',').map((t) => t.trim()).filter(Boolean);
    const unknownOps = opTypes?.filter((t) => !(QUANTIZABLE_OPS as readonly string[]).includes(t)) ?? [];
    if (unknownOps.length > 0) throw new Error(`--op-types: ${unknownOps.join(', ')} cannot be quantized; choose from ${QUANTIZABLE_OPS.join(', ')}`);
    const weightBits = values['weight-bits'] !== undefined ? number(values['weight-bits'], 'weight-bits', 8) : undefined;
    if (weightBits !== undefined && !(Number.isInteger(weightBits) && weightBits >= 2 && weightBits <= 8)) throw new Error(`--weight-bits must be an integer from 2 to 8, got "${values['weight-bits']}"`);
    const { report, directory, keptLive } = await optimize({
      modelsDir: values['models-dir'] ?? 'models', model: values.model, from: version('from'), to: version('to'), mode: modes[0],
      opTypes, exclude: values.exclude?.split(',').map((t) => t.trim()).filter(Boolean), reduceRange: values['reduce-range'], weightBits,
      graphLevel: values.level as 'basic' | 'extended' | undefined,
      serviceFor: (modelsDir) => {
        const config = readRuntimeConfig({ MODEL_DIR: modelsDir }, { intraOpThreads: 1 });
        return createService(config, createRepository(config, silentLogger, { convertNative: convertNativeModel }));
      },
    });
    console.log(formatOptimization(report));
    for (const warning of report.warnings) console.error(`modelship: warning: ${warning}`);
    console.log(`written: ${directory} (model.onnx, golden.json, optimization.json and the source's other files).`);
    const live = keptLive?.version ?? liveVersion(values['models-dir'] ?? 'models', values.model);
    console.log(`Version ${report.version} is a candidate, not live: the plain routes keep serving version ${live}${keptLive !== undefined ? ` (pinned in ${keptLive.file})` : ''}; it answers on /v2/models/${values.model}/versions/${report.version}/infer. Compare it there, or as a shadow ("shadow": {"version": ${report.version}, "percent": 100} in config.json).`);
    console.log(`To make it live: ${promotionHint(values.model, report.version)}`);
  } else if (command === 'convert') {
    if (!values.model) throw new UsageError('convert needs --model');
    if (values.version !== undefined && !/^[1-9]\d*$/.test(values.version)) throw new Error(`--version must be a positive integer version, got "${values.version}"`);
    console.log(formatConversion(convertVersionFolder(values['models-dir'] ?? 'models', values.model, values.version === undefined ? undefined : Number(values.version))));
  } else if (command === 'doctor') {
    const findings = doctorForProject({ modelsDir: values['models-dir'], context: values.context });
    console.log(formatDoctor(findings));
    if (findings.some((f) => f.level === 'error')) process.exitCode = 1;
  } else if (command === 'invoke') {
    console.log(
      await invoke({
        url: values.url ?? process.env.MODELSHIP_URL, model: values.model, version: values.version, json: values.json, image: values.image, text: values.text,
        auth: values.auth, apiKey: values['api-key'] ?? process.env.MODELSHIP_API_KEY, region: values.region, topK: values['top-k'], timeoutMs: values['timeout-ms'],
      }),
    );
  } else {
    throw new UsageError(command === undefined ? 'no command given' : `unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).catch((error: Error) => {
  // A failed call is not a usage error: one line with the status and the request id.
  if (error instanceof ModelShipError) {
    console.error(`modelship: ${error.message.split('\n')[0]}${error.status === undefined ? '' : ` (HTTP ${error.status}${error.requestId ? `, request id ${error.requestId}` : ''})`}`);
    process.exit(1);
  }
  // The usage only for a command line that is missing something (or that parseArgs refused); any other error is one line.
  const usageMistake = error instanceof UsageError || String((error as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS');
  console.error(usageMistake ? `modelship: ${error.message}\n${USAGE}` : `modelship: ${error.message}`);
  process.exit(2);
});
