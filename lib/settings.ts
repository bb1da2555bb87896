/**
 * Stack-wide options from cdk.json context (or `cdk deploy -c key=value`), with their defaults, in
 * one place. Every option is documented in the README's Configuration table.
 */
import type { Node } from 'constructs';
import type { ImageArchitecture } from './image-context.ts';

export type AuthMode = 'iam' | 'apiKey';

export interface ModelShipSettings {
  /** modelship:modelsDir — the model repository to deploy. @default 'models' */
  readonly modelsDir: string;
  /** modelship:authMode — 'iam' (SigV4) or 'apiKey' (x-api-key with a usage plan). @default 'iam' */
  readonly authMode: AuthMode;
  /** modelship:alarmEmail — an address subscribed to the alarm topic. @default - no subscription */
  readonly alarmEmail?: string;
  /** modelship:waf — attach a WAF web ACL with a rate-based rule. @default false */
  readonly waf: boolean;
  /** modelship:wafRateLimit — requests per 5 minutes per IP before WAF blocks. @default 2000 */
  readonly wafRateLimit: number;
  /** modelship:architecture — 'x86_64' or 'arm64' for the inference functions. @default 'x86_64' */
  readonly architecture: ImageArchitecture;
  /** modelship:logRetentionDays — function, access and execution log retention. @default 30 */
  readonly logRetentionDays: number;
  /** modelship:stageName — the API stage. @default 'prod' */
  readonly stageName: string;
  /** modelship:throttleRateLimit — steady requests per second across the stage. @default 100 */
  readonly throttleRateLimit: number;
  /** modelship:throttleBurstLimit — burst across the stage. @default 200 */
  readonly throttleBurstLimit: number;
  /** modelship:apiKeyQuotaPerDay — requests per day per API key (apiKey mode). @default 100000 */
  readonly apiKeyQuotaPerDay: number;
  /** modelship:corsOrigins — origins allowed by CORS, comma-separated. @default - CORS off */
  readonly corsOrigins?: string[];
  /** modelship:storeEncryption — 's3' (SSE-S3) or 'kms' (a customer managed key). @default 's3' */
  readonly storeEncryption: 's3' | 'kms';
  /** modelship:noncurrentVersionDays — days before replaced model objects expire. @default 90 */
  readonly noncurrentVersionDays: number;
  /** modelship:retainModelStore — keep the model bucket when the stack is deleted. @default true */
  readonly retainModelStore: boolean;
  /** modelship:driftScheduleMinutes — minutes between runs of the drift job. @default 60 */
  readonly driftScheduleMinutes: number;
  /** modelship:captureRetentionDays — days data captures are kept in the model store. @default 90 */
  readonly captureRetentionDays: number;
  /**
   * modelship:logEncryption — 'kms' encrypts the log groups that carry captured payloads (functions
   * with capture on, and Firehose's delivery logs) with a customer managed key, rotated yearly.
   * @default 'aws' (CloudWatch Logs' own encryption)
   */
  readonly logEncryption: 'aws' | 'kms';
  /**
   * modelship:modelStacks — 0 keeps every model in the main stack (one API, up to about ten
   * models); N spreads the models' functions, APIs and alarms over nested stacks: each function
   * group in one of its own, the other models over N by a hash of their names, so a model always
   * lands in the same one. Choose N for the repository you will grow to (about one per 5 models):
   * changing it moves models, whose resources are then replaced.
   * @default 0
   */
  readonly modelStacks: number;
  /**
   * modelship:snapStart — Lambda SnapStart for every model function whose config.json does not say
   * otherwise (its `snapStart`). @default false
   */
  readonly snapStart: boolean;
}

function read(node: Node, key: string): unknown {
  const value = node.tryGetContext(`modelship:${key}`);
  return value === '' ? undefined : value;
}

function number(node: Node, key: string, fallback: number, min = 1): number {
  const raw = read(node, key);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`context modelship:${key} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

function bool(node: Node, key: string, fallback: boolean): boolean {
  const raw = read(node, key);
  if (raw === undefined) return fallback;
  if (raw === true || raw === 'true') return true;
  if (raw === false || raw === 'false') return false;
  throw new Error(`context modelship:${key} must be true or false, got ${JSON.stringify(raw)}`);
}

function oneOf<T extends string>(node: Node, key: string, allowed: readonly T[], fallback: T): T {
  const raw = read(node, key);
  if (raw === undefined) return fallback;
  if (!allowed.includes(raw as T)) throw new Error(`context modelship:${key} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  return raw as T;
}

export function readSettings(node: Node): ModelShipSettings {
  const email = read(node, 'alarmEmail');
  if (email !== undefined && (typeof email !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(email))) {
    throw new Error(`context modelship:alarmEmail must be an email address, got ${JSON.stringify(email)}`);
  }
  const cors = read(node, 'corsOrigins');
  const corsOrigins = typeof cors === 'string' ? cors.split(',').map((o) => o.trim()).filter(Boolean) : Array.isArray(cors) ? cors.map(String) : undefined;
  const stageName = String(read(node, 'stageName') ?? 'prod');
  if (!/^[A-Za-z0-9_]{1,128}$/.test(stageName)) throw new Error(`context modelship:stageName must be letters, digits or _, got ${JSON.stringify(stageName)}`);
  return {
    modelsDir: String(read(node, 'modelsDir') ?? 'models'),
    authMode: oneOf(node, 'authMode', ['iam', 'apiKey'] as const, 'iam'),
    alarmEmail: email as string | undefined,
    waf: bool(node, 'waf', false),
    wafRateLimit: number(node, 'wafRateLimit', 2000, 10),
    architecture: oneOf(node, 'architecture', ['x86_64', 'arm64'] as const, 'x86_64'),
    logRetentionDays: number(node, 'logRetentionDays', 30),
    stageName,
    throttleRateLimit: number(node, 'throttleRateLimit', 100),
    throttleBurstLimit: number(node, 'throttleBurstLimit', 200),
    apiKeyQuotaPerDay: number(node, 'apiKeyQuotaPerDay', 100_000),
    corsOrigins: corsOrigins !== undefined && corsOrigins.length > 0 ? corsOrigins : undefined,
    storeEncryption: oneOf(node, 'storeEncryption', ['s3', 'kms'] as const, 's3'),
    noncurrentVersionDays: number(node, 'noncurrentVersionDays', 90),
    retainModelStore: bool(node, 'retainModelStore', true),
    driftScheduleMinutes: number(node, 'driftScheduleMinutes', 60, 5),
    captureRetentionDays: number(node, 'captureRetentionDays', 90),
    logEncryption: oneOf(node, 'logEncryption', ['aws', 'kms'] as const, 'aws'),
    modelStacks: number(node, 'modelStacks', 0, 0),
    snapStart: bool(node, 'snapStart', false),
  };
}
