/**
 * modelship invoke: one call to a deployed API (signed with SigV4 by default, credentials from the
 * AWS SDK's default chain) or the local server, through @modelship/client, printing the answer as JSON.
 *   --json '{"inputs": [...]}'   v2 inference (the answer's tensors printed as v2 JSON, INT64 exact)
 *   --json '{"instances": [...]}' TF Serving rows (:predict)
 *   --image FILE                 an image classifier's labels
 *   --text "..."                 a text classifier's labels, or an embedding
 */
import { ModelShipClient, type InferResult, type Tensor } from '../clients/typescript/src/index.ts';

export interface InvokeOptions {
  readonly url?: string;
  readonly model?: string;
  readonly version?: string;
  readonly json?: string;
  readonly image?: string;
  readonly text?: string;
  readonly auth?: string;
  readonly apiKey?: string;
  readonly region?: string;
  readonly topK?: string;
  readonly timeoutMs?: string;
}

/** The answer, as the JSON text to print. Bad arguments throw an Error naming them. */
export async function invoke(options: InvokeOptions): Promise<string> {
  if (!options.url) throw new Error('invoke needs --url (the stack\'s ApiUrl output, or http://127.0.0.1:8080 for the local server)');
  if (!options.model) throw new Error('invoke needs --model');
  const given = (['json', 'image', 'text'] as const).filter((k) => options[k] !== undefined);
  if (given.length !== 1) throw new Error('invoke needs exactly one of --json, --image or --text');
  const auth = options.auth ?? (options.apiKey ? 'apiKey' : 'iam');
  if (auth !== 'iam' && auth !== 'apiKey' && auth !== 'none') throw new Error(`--auth must be iam, apiKey or none, got "${auth}"`);
  const topK = options.topK === undefined ? undefined : Number(options.topK);
  if (topK !== undefined && !(Number.isInteger(topK) && topK > 0)) throw new Error(`--top-k must be a positive integer, got "${options.topK}"`);
  const timeoutMs = options.timeoutMs === undefined ? undefined : Number(options.timeoutMs);
  if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new Error(`--timeout-ms must be a positive number, got "${options.timeoutMs}"`);

  const client = new ModelShipClient({ url: options.url, auth, apiKey: options.apiKey, region: options.region, timeoutMs });
  const model = client.model(options.model, { version: options.version });
  if (options.image !== undefined) return JSON.stringify(await model.classifyImage(options.image, { topK }));
  if (options.text !== undefined) return JSON.stringify(await model.classifyText(options.text, { topK }));

  let body: { inputs?: unknown; instances?: unknown[]; outputs?: { name: string }[]; id?: string; parameters?: Record<string, unknown> };
  try {
    body = JSON.parse(options.json!) as typeof body;
  } catch (error) {
    throw new Error(`--json is not valid JSON: ${(error as Error).message}`);
  }
  if (Array.isArray(body.instances)) return JSON.stringify(await model.predict(body.instances));
  if (!Array.isArray(body.inputs)) throw new Error('--json needs "inputs" (a v2 list of tensors) or "instances" (rows); for a text use --text, for an image --image');
  return v2Json(await model.infer({ inputs: body.inputs as Tensor[], outputs: body.outputs, id: body.id, parameters: body.parameters }));
}

/** The answer in the v2 JSON form, 64-bit integers written exactly. */
function v2Json(result: InferResult): string {
  const outputs = result.outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape, data: Array.from(o.data as ArrayLike<unknown>) }));
  const answer = { model_name: result.modelName, model_version: result.modelVersion, ...(result.id === undefined ? {} : { id: result.id }), outputs };
  // BigInts become marked strings, then lose their quotes: JSON.stringify cannot write them itself.
  return JSON.stringify(answer, (_key, value) => (typeof value === 'bigint' ? `@@bigint:${value}@@` : value)).replace(/"@@bigint:(-?\d+)@@"/g, '$1');
}
