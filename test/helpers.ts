/**
 * Shared test fixtures: paths, golden files, services over real models, temporary model
 * repositories, a fake Lambda context, an HTTP caller, the local server as npm start wires it, and a
 * real S3 API server.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import S3rver from 's3rver';
import { createHttpPipeline, type HttpPipelineOptions } from '../lambda/adapters/http/pipeline.ts';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../lambda/entry/local-stack.ts';
import { limitConcurrency, startSageMakerServer, type SageMakerServer } from '../lambda/adapters/sagemaker/server.ts';
import { InferenceService, type ServiceHooks } from '../lambda/core/inference-service.ts';
import { silentLogger } from '../lambda/core/logger.ts';
import { ModelRepository, type ModelRepositoryOptions } from '../lambda/core/model-repository.ts';
import type { ModelSource } from '../lambda/core/model-source.ts';
import { defaultSessionOptions } from '../lambda/core/sessions.ts';
import { DirectorySource } from '../lambda/stores/directory-source.ts';

export const ROOT = join(import.meta.dirname, '..');
export const SAMPLES_DIR = join(ROOT, 'models');
export const FIXTURE_MODELS_DIR = join(ROOT, 'test', 'fixtures', 'models');
/** Every sample model under models/. */
export const SAMPLE_MODELS = ['breast_cancer_classifier', 'car_mpg', 'debian_embeddings', 'debian_sections', 'diabetes_regressor', 'digits_mlp', 'iris_forest', 'penguin_species', 'text_orientation'];
/** The native tree samples (XGBoost model.json, LightGBM model.txt): converted before serving, golden.json with one input per feature. */
export const NATIVE_SAMPLES = ['car_mpg', 'penguin_species'];
/** The tabular samples: tensors in and out, with v2 golden.json rows. */
export const TABULAR_SAMPLES = ['breast_cancer_classifier', 'diabetes_regressor', 'digits_mlp', 'iris_forest'];

export interface GoldenTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: number[];
}

export interface Golden {
  inputs: GoldenTensor[];
  outputs: GoldenTensor[];
  targets: number[];
  tolerance: { absolute: number; relative: number };
}

export function readGolden(model: string, version = 1): Golden {
  return JSON.parse(readFileSync(join(SAMPLES_DIR, model, String(version), 'golden.json'), 'utf8')) as Golden;
}

export function readEvaluation(model: string, version = 1): { task: string; metrics: Record<string, number> } {
  return JSON.parse(readFileSync(join(SAMPLES_DIR, model, String(version), 'evaluation.json'), 'utf8'));
}

/** A repository over a directory or source, with one intra-op thread (tests run side by side). */
export function createTestRepository(source: ModelSource | string, options: Partial<ModelRepositoryOptions> = {}): ModelRepository {
  return new ModelRepository({ source: typeof source === 'string' ? new DirectorySource(source) : source, sessionOptions: defaultSessionOptions(1), ...options });
}

/** A service over a directory or source; hooks are given at construction, as in every entry. */
export function createTestService(source: ModelSource | string, options: Partial<ModelRepositoryOptions> = {}, hooks?: ServiceHooks): InferenceService {
  return new InferenceService({ repository: createTestRepository(source, options), hooks });
}

/** The local server as `npm start` wires it (runtime, console, pipeline), over a directory, on a free port, with its data in a temporary folder. */
export function startTestLocalServer(source: ModelSource | string, options: Partial<Omit<LocalStackOptions, 'repository'>> & { repository?: Partial<ModelRepositoryOptions> } = {}): Promise<LocalStack> {
  const { repository, ...rest } = options;
  return startLocalStack({
    dataDir: mkdtempSync(join(tmpdir(), 'local-data-')),
    logger: silentLogger,
    port: 0,
    ...rest,
    repository: (hooks) => createTestRepository(source, { ...repository, ...hooks }),
  });
}

/** The SageMaker container as its entry wires it (pipeline over a concurrency-limited service), for one model, on a free loopback port. */
export function startTestSageMakerServer(service: InferenceService, modelName: string, options: HttpPipelineOptions & { maxConcurrency?: number; queueLimit?: number } = {}): Promise<SageMakerServer> {
  const { maxConcurrency, queueLimit, ...pipelineOptions } = options;
  return startSageMakerServer({ pipeline: createHttpPipeline(limitConcurrency(service, { maxConcurrency, queueLimit }), pipelineOptions), modelName, port: 0, host: '127.0.0.1' });
}

/**
 * Starts one of bin/'s servers in a child process with extra environment and waits for the line that
 * names its URL; `output()` is everything it printed so far (stdout and stderr).
 */
export async function spawnServer(script: string, env: Record<string, string>): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', script)], { cwd: ROOT, env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (c) => (output += c));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL within 20 s:\n${output}`)), 20_000);
    child.stdout!.on('data', (c) => {
      output += c;
      const match = /on (http:\/\/[\d.:]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code}:\n${output}`));
    });
  });
  return { child, url, output: () => output };
}

/** A Lambda context as the runtime passes it, with `remainingMs` left. */
export function fakeLambdaContext(remainingMs = 29_000): Context {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'modelship-iris',
    functionVersion: '3',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:modelship-iris:live',
    memoryLimitInMB: '2048',
    awsRequestId: '8f5c2b1e-3d4a-4f6b-9c8d-7e6f5a4b3c2d',
    logGroupName: '/aws/lambda/modelship-iris',
    logStreamName: '2026/11/22/[3]abcdef',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** One HTTP call: status, headers, the body as text and (when it is JSON) parsed. */
export async function call(url: string, method = 'GET', body?: string | Uint8Array, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; text: string; json: any }> {
  const response = await fetch(url, { method, body, headers: { 'Content-Type': 'application/json', ...headers } });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/**
 * A temporary model repository, built from the samples and fixtures: copy models, add versions,
 * change configs. Each call returns the builder; `dir` is the repository.
 */
export class TempRepository {
  readonly dir: string;

  constructor(prefix = 'repo-') {
    this.dir = mkdtempSync(join(tmpdir(), `modelship-${prefix}`));
  }

  /** Copies models/<name> (every sample when no name is given), as `as`. */
  sample(name?: string, as = name): this {
    cpSync(name === undefined ? SAMPLES_DIR : join(SAMPLES_DIR, name), name === undefined ? this.dir : join(this.dir, as!), { recursive: true });
    return this;
  }

  /** Copies test/fixtures/models/<name>, as `as`. */
  fixture(name: string, as = name): this {
    cpSync(join(FIXTURE_MODELS_DIR, name), join(this.dir, as), { recursive: true });
    return this;
  }

  /** Copies a file or folder (an absolute path) to a path under the repository, e.g. a model.onnx as another version. */
  copy(from: string, to: string): this {
    mkdirSync(dirname(join(this.dir, to)), { recursive: true });
    cpSync(from, join(this.dir, to), { recursive: true });
    return this;
  }

  /** Writes a file into the repository (a path under it). */
  file(path: string, content: string | Uint8Array): this {
    mkdirSync(dirname(join(this.dir, path)), { recursive: true });
    writeFileSync(join(this.dir, path), content);
    return this;
  }

  /** Merges fields into <model>/config.json. */
  config(model: string, fields: Record<string, unknown>): this {
    const file = join(this.dir, model, 'config.json');
    const current = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
    return this.file(`${model}/config.json`, JSON.stringify({ ...current, ...fields }));
  }
}

/** Asserts every value is within absolute + relative tolerance, naming the first that is not. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: { absolute: number; relative: number }, what: string): void {
  if (actual.length !== expected.length) throw new Error(`${what}: ${actual.length} values, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(Number(actual[i]) - Number(expected[i]));
    if (!(diff <= tolerance.absolute + tolerance.relative * Math.abs(Number(expected[i])))) {
      throw new Error(`${what}[${i}] = ${actual[i]}, expected ${expected[i]} (diff ${diff})`);
    }
  }
}

/** Every file under a directory, as paths relative to it with / separators. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  walk(dir);
  return out;
}

export interface TestS3 {
  readonly endpoint: string;
  readonly client: S3Client;
  readonly server: S3rver;
  readonly port: number;
  upload(dir: string, prefix: string, bucket?: string): Promise<void>;
  close(): Promise<void>;
}

/** A real S3 API server (s3rver, in-process) on a free loopback port, with a bucket named "models". */
export async function startTestS3(port = 0): Promise<TestS3> {
  const server = new S3rver({
    port,
    address: '127.0.0.1',
    silent: true,
    directory: mkdtempSync(join(tmpdir(), 'modelship-s3-')),
    configureBuckets: [{ name: 'models', configs: [] }],
  });
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  const client = new S3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    maxAttempts: 2,
  });
  return {
    endpoint,
    client,
    server,
    port: address.port,
    async upload(dir, prefix, bucket = 'models') {
      for (const file of listTree(dir)) {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}${file}`, Body: readFileSync(join(dir, file)) }));
      }
    },
    close: () => server.close(),
  };
}

/** A v2 request for the first `rows` rows of a golden file. */
export function goldenRequest(golden: Golden, rows?: number): { inputs: GoldenTensor[] } {
  return {
    inputs: golden.inputs.map((input) => {
      const n = rows ?? input.shape[0];
      const rowSize = input.shape.slice(1).reduce((a, b) => a * b, 1);
      return { ...input, shape: [n, ...input.shape.slice(1)], data: input.data.slice(0, n * rowSize) };
    }),
  };
}

/** One CloudWatch embedded-metric-format record, checked against the format's rules. */
export interface EmfRecord {
  readonly namespace: string;
  readonly dimensions: Record<string, string>;
  readonly values: Record<string, number[]>;
  readonly units: Record<string, string>;
}

/**
 * The EMF records among lines of output (other lines are skipped). Each must follow the format:
 * one namespace, one dimension set whose keys all have string values, every declared metric present
 * as a number or list of numbers.
 */
export function emfRecords(text: string): EmfRecord[] {
  const records: EmfRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{"_aws"')) continue;
    const raw = JSON.parse(line) as Record<string, unknown> & { _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] } };
    assert.equal(typeof raw._aws.Timestamp, 'number', line);
    assert.equal(raw._aws.CloudWatchMetrics.length, 1, line);
    const [directive] = raw._aws.CloudWatchMetrics;
    assert.equal(directive.Dimensions.length, 1, line);
    const dimensions: Record<string, string> = {};
    for (const key of directive.Dimensions[0]) {
      assert.equal(typeof raw[key], 'string', `dimension ${key} in ${line}`);
      dimensions[key] = raw[key] as string;
    }
    const values: Record<string, number[]> = {};
    const units: Record<string, string> = {};
    for (const { Name, Unit } of directive.Metrics) {
      const value = raw[Name];
      const list = Array.isArray(value) ? value : [value];
      assert.ok(list.every((v) => typeof v === 'number' && Number.isFinite(v)), `metric ${Name} in ${line}`);
      values[Name] = list as number[];
      units[Name] = Unit;
    }
    records.push({ namespace: directive.Namespace, dimensions, values, units });
  }
  return records;
}

/**
 * Every value of a metric across records whose dimensions include `dimensions` (with `exact`: whose
 * dimensions are exactly these, besides `service`).
 */
export function metricValues(records: readonly EmfRecord[], name: string, dimensions: Record<string, string> = {}, options: { exact?: boolean } = {}): number[] {
  return records
    .filter((r) => r.values[name] !== undefined && Object.entries(dimensions).every(([k, v]) => r.dimensions[k] === v))
    .filter((r) => !options.exact || Object.keys(r.dimensions).filter((k) => k !== 'service').length === Object.keys(dimensions).length)
    .flatMap((r) => r.values[name]);
}
