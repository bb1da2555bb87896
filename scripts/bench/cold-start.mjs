// Cold start, phase by phase, in a fresh process: `modelship` runs the bundled Lambda handler from
// a staged image context (imports, then the handler's own load: fetch from S3 and session), then
// its first request; `bare` does only those steps by hand. Prints one JSON line.
// Usage: node cold-start.mjs modelship|bare STAGED_DIR EVENT_FILE
const t0 = performance.timeOrigin;
const since = () => performance.now();
const [mode, staged, eventFile] = process.argv.slice(2);
const { readFileSync } = await import('node:fs');
const event = JSON.parse(readFileSync(eventFile, 'utf8'));
const context = { getRemainingTimeInMillis: () => 30_000, functionName: 'bench', awsRequestId: 'cold' };
const phases = {};
if (mode === 'modelship') {
  // index.mjs preloads during import (PRELOAD_MODELS=true), as the Lambda init phase does.
  const { handler } = await import(`${staged}/index.mjs`);
  phases.importsAndLoad = since();
  const result = await handler(event, context);
  phases.firstAnswer = since();
  if (result.statusCode !== 200) throw new Error(result.body);
} else {
  const { createRequire } = await import('node:module');
  const require = createRequire(`${staged}/index.mjs`);
  const ort = require('onnxruntime-node');
  const { S3Client, GetObjectCommand } = await import('@aws-sdk/client-s3');
  phases.imports = since();
  const client = new S3Client({ endpoint: process.env.S3_ENDPOINT, forcePathStyle: true, region: 'us-east-1' });
  const object = await client.send(new GetObjectCommand({ Bucket: process.env.MODEL_BUCKET, Key: `${process.env.MODEL_PREFIX}${process.env.MODEL_NAMES}/1/model.onnx` }));
  const bytes = await object.Body.transformToByteArray();
  phases.download = since();
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  phases.session = since();
  const body = JSON.parse(event.body);
  const input = body.inputs[0];
  await session.run({ [input.name]: new ort.Tensor('float32', Float32Array.from(input.data), input.shape) });
  phases.firstAnswer = since();
}
console.log(JSON.stringify({ mode, processStartToNow: Date.now() - t0, phases }));
