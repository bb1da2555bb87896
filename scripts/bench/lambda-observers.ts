// The Lambda inference handler (lambda/entry/api.ts) in this process, called back to back: its time
// per invocation with the observers MODELSHIP_OBSERVE leaves on. Logs and metric records go to
// stdout, as in Lambda (the caller drains the pipe). Prints one JSON line to stderr.
// Usage: MODEL_DIR=... MODEL_NAMES=breast_cancer_classifier node lambda-observers.ts BODY_FILE CALLS
import { readFileSync } from 'node:fs';

const [bodyFile, calls] = process.argv.slice(2);
const { handler } = await import('../../lambda/entry/api.ts');
const model = process.env.MODEL_NAMES!;
const event = { httpMethod: 'POST', path: `/v2/models/${model}/infer`, headers: { 'Content-Type': 'application/json' }, body: readFileSync(bodyFile, 'utf8'), isBase64Encoded: false, requestContext: {} };
let n = 0;
const context = () => ({ getRemainingTimeInMillis: () => 30_000, functionName: 'bench', functionVersion: '1', invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:bench', memoryLimitInMB: '2048', awsRequestId: `bench-${n++}`, logGroupName: 'bench', logStreamName: 'bench', callbackWaitsForEmptyEventLoop: true });
const call = async () => {
  const result = (await handler(event as never, context() as never)) as { statusCode: number; body: string };
  if (result.statusCode !== 200) throw new Error(result.body);
};
for (let i = 0; i < 2000; i++) await call();
const total = Number(calls);
const started = performance.now();
for (let i = 0; i < total; i++) await call();
const micros = ((performance.now() - started) / total) * 1000;
process.stderr.write(`${JSON.stringify({ observe: process.env.MODELSHIP_OBSERVE ?? 'all', microsPerCall: micros, callsPerSecond: 1e6 / micros })}\n`);
