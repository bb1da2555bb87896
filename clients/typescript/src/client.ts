/**
 * The ModelShip client: health, and per model metadata, readiness, v2 inference with typed arrays,
 * TF Serving rows, the image and text tasks, and feedback, against a deployed API (SigV4 by default)
 * or the local server.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { decodeInferResponse, encodeInferRequest, toInputList, type InferBody, type InferResult, type NamedInput, type Tensor } from './tensors.ts';
import { regionOfUrl, Transport, type CallOptions, type HttpCall, type RetryOptions } from './transport.ts';

export interface ModelShipClientOptions {
  /** The API's base URL: the stack's ApiUrl output (https://{id}.execute-api.{region}.amazonaws.com/{stage}/), or the local server's. */
  readonly url: string;
  /** @default - the region in an execute-api URL, else AWS_REGION, else us-east-1 */
  readonly region?: string;
  /** How requests prove who sends them. @default 'iam' (SigV4, as the deployed API requires by default) */
  readonly auth?: 'iam' | 'apiKey' | 'none';
  /** @default - the AWS SDK's default provider chain (environment, profile, SSO, container, instance metadata) */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** The key sent as x-api-key with auth 'apiKey'. */
  readonly apiKey?: string;
  /** The time each attempt may take. @default 30000 */
  readonly timeoutMs?: number;
  /** Retries of requests that are safe to repeat, on 429, 502, 503, 504 and network errors; a number is the attempts after the first. @default 3 attempts, 100 ms base, 20 s cap */
  readonly retries?: number | RetryOptions;
  /** Inputs whose values reach this many bytes go as binary tensors. @default 65536 */
  readonly binaryThresholdBytes?: number;
  /** Ask for outputs as binary tensors (exact INT64, no JSON number parsing). @default true */
  readonly binaryOutputs?: boolean;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

export interface InferRequest extends InferBody {
  /** The v2 list ([{ name, shape, datatype, data }], data a typed array or nested numbers), or a record of name → typed array / { data, shape }. */
  readonly inputs: readonly Tensor[] | Record<string, NamedInput>;
}

export interface Label {
  readonly label: string;
  readonly score: number;
}

export interface TaskOptions extends CallOptions {
  /** How many labels, best first. @default - the model's default */
  readonly topK?: number;
}

export interface Feedback {
  /** The id sent with the prediction. */
  readonly id?: string;
  /** @default - the version this handle names, else the server's live version */
  readonly modelVersion?: string;
  /** A binary outcome (0 or 1)... */
  readonly outcome?: 0 | 1;
  /** ...or the true label, with the one predicted. */
  readonly label?: string | number;
  readonly predicted?: string | number;
}

const processEnv = (name: string): string | undefined => (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];

export class ModelShipClient {
  /** @internal */
  readonly transport: Transport;
  /** @internal */
  readonly encoding: { binaryThreshold: number; binaryOutputs: boolean };

  constructor(options: ModelShipClientOptions) {
    const retries = typeof options.retries === 'number' ? { attempts: options.retries } : (options.retries ?? {});
    this.transport = new Transport({
      url: options.url,
      region: options.region ?? regionOfUrl(options.url) ?? processEnv('AWS_REGION') ?? 'us-east-1',
      auth: options.auth ?? 'iam',
      credentials: options.credentials,
      apiKey: options.apiKey,
      timeoutMs: options.timeoutMs ?? 30_000,
      retries,
      fetch: options.fetch,
    });
    this.encoding = { binaryThreshold: options.binaryThresholdBytes ?? 65_536, binaryOutputs: options.binaryOutputs ?? true };
  }

  /** Whether the server is live (GET /v2/health/live). */
  async live(options?: CallOptions): Promise<boolean> {
    return (await this.json<{ live: boolean }>({ method: 'GET', path: 'v2/health/live', idempotent: true }, options)).live === true;
  }

  /** Whether the server can serve (GET /v2/health/ready): false when it answers 503. */
  async ready(options?: CallOptions): Promise<boolean> {
    const answer = await this.transport.call({ method: 'GET', path: 'v2/health/ready', idempotent: true, accept: [503] }, options);
    return answer.status === 200 && (parse(answer.body) as { ready?: boolean }).ready === true;
  }

  /** A handle on one model (its live version, or the version given). */
  model(name: string, options: { version?: string | number } = {}): ModelHandle {
    return new ModelHandle(this, name, options.version === undefined ? undefined : String(options.version));
  }

  /** @internal */
  async json<T>(call: HttpCall, options?: CallOptions): Promise<T> {
    return parse((await this.transport.call(call, options)).body) as T;
  }
}

export class ModelHandle {
  readonly name: string;
  readonly version: string | undefined;
  private readonly client: ModelShipClient;

  constructor(client: ModelShipClient, name: string, version: string | undefined) {
    this.client = client;
    this.name = name;
    this.version = version;
  }

  private get path(): string {
    return `v2/models/${encodeURIComponent(this.name)}${this.version === undefined ? '' : `/versions/${encodeURIComponent(this.version)}`}`;
  }

  /** Inputs, outputs (name, datatype, shape; -1 for free dimensions), versions and parameters. */
  metadata(options?: CallOptions): Promise<ModelMetadata> {
    return this.client.json({ method: 'GET', path: this.path, idempotent: true }, options);
  }

  /** Whether the model (version) is loaded and can answer: false when the server answers 503. */
  async ready(options?: CallOptions): Promise<boolean> {
    const answer = await this.client.transport.call({ method: 'GET', path: `${this.path}/ready`, idempotent: true, accept: [503] }, options);
    return answer.status === 200 && (parse(answer.body) as { ready?: boolean }).ready === true;
  }

  /** v2 inference; the answer's tensors as typed arrays (INT64 as BigInt64Array), BYTES as strings. */
  async infer(request: InferRequest, options?: CallOptions): Promise<InferResult> {
    const encoded = encodeInferRequest(toInputList(request.inputs), request, this.client.encoding);
    const answer = await this.client.transport.call({ method: 'POST', path: `${this.path}/infer`, headers: encoded.headers, body: encoded.body, idempotent: true }, options);
    const headerLength = answer.headers.get('inference-header-content-length');
    return decodeInferResponse(answer.body, headerLength === null ? undefined : Number(headerLength));
  }

  /** TF Serving rows (POST /v1/models/{name}:predict): the predictions. */
  async predict<P = unknown>(instances: readonly unknown[], options?: CallOptions): Promise<P[]> {
    const path = `v1/models/${encodeURIComponent(this.name)}${this.version === undefined ? '' : `/versions/${encodeURIComponent(this.version)}`}:predict`;
    return (await this.client.json<{ predictions: P[] }>({ method: 'POST', path, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ instances }), idempotent: true }, options)).predictions;
  }

  /** An image classifier's labels for one image (its bytes, or a file path in Node), best first. */
  async classifyImage(image: Uint8Array | ArrayBuffer | string, options: TaskOptions = {}): Promise<Label[]> {
    const bytes = typeof image === 'string' ? await readFile(image) : image instanceof Uint8Array ? image : new Uint8Array(image);
    return this.task<Label[]>(toBase64(bytes), options);
  }

  /** A text classifier's labels, best first: for one text a list, for several a list per text. */
  classifyText(text: string, options?: TaskOptions): Promise<Label[]>;
  classifyText(texts: readonly string[], options?: TaskOptions): Promise<Label[][]>;
  classifyText(texts: string | readonly string[], options: TaskOptions = {}): Promise<Label[] | Label[][]> {
    return this.task(texts, options);
  }

  /** An embedding model's vectors, one per text. */
  async embed(texts: string | readonly string[], options: CallOptions = {}): Promise<number[][]> {
    return this.task<number[][]>(typeof texts === 'string' ? [texts] : texts, options);
  }

  /** Records the outcome of a prediction (202). Never retried: a repeat would count twice. */
  feedback(feedback: Feedback, options?: CallOptions): Promise<Record<string, unknown>> {
    const modelVersion = feedback.modelVersion ?? this.version;
    const body = { id: feedback.id, model_version: modelVersion, outcome: feedback.outcome, label: feedback.label, predicted: feedback.predicted };
    return this.client.json({ method: 'POST', path: `v2/models/${encodeURIComponent(this.name)}/feedback`, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), idempotent: false }, options);
  }

  private task<T>(inputs: string | readonly string[], options: TaskOptions): Promise<T> {
    const body = JSON.stringify({ inputs, ...(options.topK === undefined ? {} : { parameters: { top_k: options.topK } }) });
    return this.client.json<T>({ method: 'POST', path: `${this.path}/infer`, headers: { 'Content-Type': 'application/json' }, body, idempotent: true }, options);
  }
}

export interface ModelMetadata {
  readonly name: string;
  readonly versions: string[];
  readonly platform: string;
  readonly inputs: { name: string; datatype: string; shape: number[] }[];
  readonly outputs: { name: string; datatype: string; shape: number[] }[];
  readonly parameters?: Record<string, unknown>;
}

const parse = (body: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(body));

async function readFile(path: string): Promise<Uint8Array> {
  const fs = await import('node:fs/promises');
  return new Uint8Array(await fs.readFile(path));
}

function toBase64(bytes: Uint8Array): string {
  const NodeBuffer = (globalThis as { Buffer?: { from(b: Uint8Array): { toString(e: string): string } } }).Buffer;
  if (NodeBuffer !== undefined) return NodeBuffer.from(bytes).toString('base64');
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}
