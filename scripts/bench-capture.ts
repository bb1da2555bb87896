#!/usr/bin/env node
/**
 * npm run bench:capture — what data capture costs a request, in process: the Lambda handler's time
 * per request (1 row) with capture off and with every request captured, the record written
 * synchronously as the function writes it to stdout (here to /dev/null). Prints figures; asserts
 * nothing.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { createApiHandler } from '../lambda/api-handler.ts';
import { attachCapture } from '../lambda/capture-sink.ts';
import { powertoolsSink, Telemetry } from '../lambda/telemetry.ts';
import { createTestService, goldenRequest, readGolden, SAMPLES_DIR } from '../test/helpers.ts';

const devNull = openSync('/dev/null', 'w');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const context = { getRemainingTimeInMillis: () => 30_000 } as Context;
console.log('data capture cost per request (1 row, in process; median of 10 rounds of 2,000)');
for (const name of ['iris_forest', 'breast_cancer_classifier', 'digits_mlp']) {
  const service = createTestService(SAMPLES_DIR);
  attachCapture(service, new Telemetry(powertoolsSink(() => {})), (_capture, line) => writeSync(devNull, `${line}\n`));
  const handler = createApiHandler(service);
  const body = JSON.stringify(goldenRequest(readGolden(name), 1));
  const event = { httpMethod: 'POST', path: `/v2/models/${name}/infer`, headers: { 'Content-Type': 'application/json' }, body, isBase64Encoded: false, requestContext: {} } as unknown as APIGatewayProxyEvent;
  const round = async (percent: number) => {
    service.capturePercent = percent;
    const started = performance.now();
    for (let i = 0; i < 2000; i++) await handler(event, context);
    return ((performance.now() - started) / 2000) * 1000;
  };
  for (let i = 0; i < 1000; i++) await handler(event, context);
  const [off, on]: number[][] = [[], []];
  for (let r = 0; r < 10; r++) {
    off.push(await round(0));
    on.push(await round(100));
  }
  const [a, b] = [median(off), median(on)];
  console.log(`  ${name.padEnd(26)} off ${a.toFixed(1)} us, every request captured ${b.toFixed(1)} us (+${(b - a).toFixed(1)} us, record ${Buffer.byteLength(body)} B request)`);
}
closeSync(devNull);
