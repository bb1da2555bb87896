/**
 * npm start's wiring: every model under ./models on http://127.0.0.1:8080 through the same pipeline
 * and core as Lambda. PORT, HOST and MODEL_DIR override the address and repository; MODEL_BUCKET
 * (with MODEL_PREFIX and S3_ENDPOINT for an S3-compatible store) serves from S3 instead. API_KEY
 * requires that key in x-api-key. AUTH=iam requires AWS Signature Version 4 as the deployed API does
 * (IAM authorization), checked against LOCAL_ACCESS_KEY_ID / LOCAL_SECRET_ACCESS_KEY (and
 * LOCAL_SESSION_TOKEN for temporary credentials) for the region AWS_REGION (default us-east-1) and the
 * service execute-api. Under LOCAL_DATA_DIR (default .local): metric records
 * (metrics/<date>.jsonl, the function's EMF records), captures
 * (captures/<model>/<version>/<date>/captures.jsonl; CAPTURE_PERCENT samples models whose config
 * sets no capture) and feedback (feedback/<model>.jsonl). The console is at /.
 */
import { exitOnSignals } from '../adapters/http/node-server.ts';
import { exampleRequest } from '../adapters/local/examples.ts';
import { convertNativeModel } from '../convert/registry.ts';
import { startLocalStack } from './local-stack.ts';
import { consoleLogger } from '../observability/logging.ts';
import { createRepository, readRuntimeConfig, RuntimeConfigError } from './runtime-config.ts';

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const logger = consoleLogger();
  try {
    const config = readRuntimeConfig(env, { modelDir: 'models', preload: true, intraOpThreads: 1 });
    const port = Number(env.PORT ?? 8080);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RuntimeConfigError(`PORT must be a port number, got "${env.PORT}"`);
    const capturePercent = Number(env.CAPTURE_PERCENT ?? 0);
    if (!(capturePercent >= 0 && capturePercent <= 100)) throw new RuntimeConfigError(`CAPTURE_PERCENT must be a number from 0 to 100, got "${env.CAPTURE_PERCENT}"`);
    const iam = readIamAuth(env);
    const local = await startLocalStack({
      // Native models (model.json, model.txt, ...) are converted once, when they load at start.
      repository: (hooks) => createRepository(config, logger, { ...hooks, convertNative: convertNativeModel }),
      dataDir: env.LOCAL_DATA_DIR ?? '.local',
      logger,
      capturePercent,
      apiKey: env.API_KEY || undefined,
      iam,
      corsOrigins: env.CORS_ORIGINS ? env.CORS_ORIGINS.split(',').map((o) => o.trim()) : undefined,
      port,
      host: env.HOST ?? '127.0.0.1',
      maxRequestBytes: config.maxRequestBytes,
      observe: { metrics: config.observe.has('metrics'), stats: config.observe.has('stats'), capture: config.observe.has('capture') },
    });
    const { repository, service, server } = local;
    // Signals are handled before anything is printed: a caller may stop the server as soon as it reads the URL.
    exitOnSignals(() => local.close());
    const failures = config.preload ? await repository.preload() : [];

    const catalog = await repository.catalog();
    console.log(`ModelShip serving ${catalog.size} model(s) from ${repository.source.location} on ${server.url}`);
    for (const entry of catalog.values()) {
      const state = entry.problem ?? failures.find((f) => f.startsWith(`${entry.name}:`));
      const versions = `versions ${entry.versions.join(', ') || 'none'}`;
      // A model that cannot be served is FAILING, with why: never "live" (its config may name no live version at all).
      console.log(state === undefined ? `  ${entry.name.padEnd(28)} live v${entry.liveVersion} (${versions})` : `  ${entry.name.padEnd(28)} FAILING (${versions}): ${state}`);
    }
    const sample = [...catalog.values()].find((e) => e.name === 'iris_forest' && e.problem === undefined) ?? [...catalog.values()].find((e) => e.problem === undefined);
    if (sample !== undefined) {
      const model = await repository.load(sample.name, sample.liveVersion!).catch(() => undefined);
      if (model !== undefined) {
        const example = await exampleRequest(service, model);
        const url = `${server.url}/v2/models/${model.name}/infer`;
        // JSON in single quotes for the shell: a quote inside is closed, escaped and reopened.
        const quoted = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
        // The key itself, not $API_KEY: `API_KEY=… npm start` leaves the caller's shell without it. It is the caller's own key, on their terminal.
        const key = env.API_KEY ? ` -H ${quoted(`x-api-key: ${env.API_KEY}`)}` : '';
        const line = example === undefined ? `curl -s -X POST ${url}${key} --data-binary @image.jpg -H 'Content-Type: image/jpeg'` : `curl -s -X POST ${url}${key} -H 'Content-Type: application/json' -d ${quoted(JSON.stringify(example))}`;
        console.log(`\nTry it:\n  ${line}\n`);
      }
    }
    if (iam !== undefined) console.log(`Requests must be signed (SigV4, service execute-api, region ${iam.region}) with the access key ${iam.credentials.accessKeyId}.`);
    console.log(`Console: ${server.url}/`);
  } catch (error) {
    console.error(`modelship: ${(error as Error).message}`);
    process.exit(1);
  }
}

/** AUTH=iam's credentials and region; undefined when AUTH is unset or "none". */
function readIamAuth(env: NodeJS.ProcessEnv) {
  const auth = env.AUTH ?? 'none';
  if (auth === 'none') return undefined;
  if (auth !== 'iam') throw new RuntimeConfigError(`AUTH must be "iam" or "none", got "${auth}" (an API key is set with API_KEY)`);
  const accessKeyId = env.LOCAL_ACCESS_KEY_ID;
  const secretAccessKey = env.LOCAL_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) throw new RuntimeConfigError('AUTH=iam needs LOCAL_ACCESS_KEY_ID and LOCAL_SECRET_ACCESS_KEY (the credentials clients sign with; LOCAL_SESSION_TOKEN too for temporary ones)');
  return { credentials: { accessKeyId, secretAccessKey, sessionToken: env.LOCAL_SESSION_TOKEN || undefined }, region: env.AWS_REGION || 'us-east-1' };
}
