#!/usr/bin/env node
/**
 * npm run bench:capture — what data capture costs a request, in process: the Lambda handler's time
 * per request (1 row) with capture off and with every request captured, the record written
 * synchronously as the function writes it to stdout (here to /dev/null). Prints figures; asserts
 * nothing.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { createApiGatewayHandler } from '../lambda/adapters/api-gateway/handler.ts';
import { InferenceService } from '../lambda/core/inference-service.ts';
import { captureHook } from '../lambda/observability/capture-sink.ts';
import { powertoolsSink, Telemetry } from '../lambda/observability/telemetry.ts';
import { createTestRepository, fakeLambdaContext, goldenRequest, readGolden, SAMPLES_DIR } from '../test/helpers.ts';

const devNull = openSync('/dev/null', 'w');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const context = fakeLambdaContext(3_600_000);
console.log('data capture cost per request (1 row, in process; median of 10 rounds of 2,000)');
for (const name of ['iris_forest', 'breast_cancer_classifier', 'digits_mlp']) {
  // One repository; two services over it: capture off, and every request captured.
  const repository = createTestRepository(SAMPLES_DIR);
  const onCapture = captureHook(new Telemetry(powertoolsSink(() => {})), (_capture, line) => writeSync(devNull, `${line}\n`));
  const handlers = { 0: createApiGatewayHandler(new InferenceService({ repository })), 100: createApiGatewayHandler(new InferenceService({ repository, hooks: { onCapture, capturePercent: 100 } })) };
  const body = JSON.stringify(goldenRequest(readGolden(name), 1));
  const event = { httpMethod: 'POST', path: `/v2/models/${name}/infer`, headers: { 'Content-Type': 'application/json' }, body, isBase64Encoded: false, requestContext: {} } as unknown as APIGatewayProxyEvent;
  const round = async (percent: 0 | 100) => {
    const handler = handlers[percent];
    const started = performance.now();
    for (let i = 0; i < 2000; i++) await handler(event, context);
    return ((performance.now() - started) / 2000) * 1000;
  };
  for (let i = 0; i < 1000; i++) await handlers[100](event, context);
  const [off, on]: number[][] = [[], []];
  for (let r = 0; r < 10; r++) {
    off.push(await round(0));
    on.push(await round(100));
  }
  const [a, b] = [median(off), median(on)];
  console.log(`  ${name.padEnd(26)} off ${a.toFixed(1)} us, every request captured ${b.toFixed(1)} us (+${(b - a).toFixed(1)} us, record ${Buffer.byteLength(body)} B request)`);
}
closeSync(devNull);
