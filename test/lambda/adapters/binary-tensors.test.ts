import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { createApiGatewayHandler } from '../../../lambda/adapters/api-gateway/handler.ts';
import type { LocalStack } from '../../../lambda/entry/local-stack.ts';
import { DirectorySource } from '../../../lambda/stores/directory-source.ts';
import { SingleModelSource } from '../../../lambda/stores/single-model-source.ts';
import { assertClose, createTestService, fakeLambdaContext, readGolden, SAMPLES_DIR, startTestLocalServer, startTestSageMakerServer, TempRepository } from '../../helpers.ts';

/** A request with the binary tensor extension: JSON header, then each input's raw bytes. */
function binaryRequest(header: unknown, parts: Buffer[]): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...parts]), headerLength: json.length };
}

/** Splits a binary answer into its JSON header and each binary output's bytes. */
function readBinaryAnswer(body: Buffer, headerLength: number): { header: { outputs: { name: string; shape: number[]; parameters?: { binary_data_size: number }; data?: unknown[] }[] }; parts: Map<string, Buffer> } {
  const header = JSON.parse(body.subarray(0, headerLength).toString('utf8'));
  const parts = new Map<string, Buffer>();
  let at = headerLength;
  for (const output of header.outputs) {
    const size = output.parameters?.binary_data_size;
    if (size === undefined) continue;
    parts.set(output.name, body.subarray(at, at + size));
    at += size;
  }
  assert.equal(at, body.length, 'the answer holds exactly the declared bytes');
  return { header, parts };
}

const floats = (buffer: Buffer) => Array.from(new Float32Array(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength)));
const golden = readGolden('digits_mlp');
const images = 5;
const imageBytes = Buffer.from(new Float32Array(golden.inputs[0].data.slice(0, images * 64)).buffer);

describe('binary tensor extension (Triton style)', () => {
  let server: LocalStack;
  before(async () => {
    const repo = new TempRepository('binary-').sample().fixture('identity_int64').fixture('identity_bytes').fixture('identity_fp16');
    server = await startTestLocalServer(repo.dir);
  });
  after(() => server.close());

  const send = async (model: string, header: unknown, parts: Buffer[], headerLength?: number) => {
    const request = binaryRequest(header, parts);
    const response = await fetch(`${server.url}/v2/models/${model}/infer`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(headerLength ?? request.headerLength) },
      body: request.body,
    });
    return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
  };

  it('takes raw FP32 input and answers JSON outputs by default', async () => {
    const answer = await send('digits_mlp', { inputs: [{ name: 'image', datatype: 'FP32', shape: [images, 8, 8], parameters: { binary_data_size: imageBytes.length } }] }, [imageBytes]);
    assert.equal(answer.status, 200, answer.body.toString());
    assert.equal(answer.headers.get('inference-header-content-length'), null);
    assert.deepEqual(JSON.parse(answer.body.toString()).outputs[0].data, golden.outputs[0].data.slice(0, images));
  });

  it('answers binary outputs when asked, with the header length and sizes declared', async () => {
    const answer = await send('digits_mlp', {
      inputs: [{ name: 'image', datatype: 'FP32', shape: [images, 8, 8], parameters: { binary_data_size: imageBytes.length } }],
      outputs: [{ name: 'probabilities', parameters: { binary_data: true } }, { name: 'label' }],
    }, [imageBytes]);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('content-type'), 'application/octet-stream');
    const { header, parts } = readBinaryAnswer(answer.body, Number(answer.headers.get('inference-header-content-length')));
    assert.deepEqual(header.outputs.map((o) => o.name), ['probabilities', 'label']);
    assert.equal(header.outputs[0].parameters!.binary_data_size, images * 10 * 4);
    assertClose(floats(parts.get('probabilities')!), golden.outputs[1].data.slice(0, images * 10), golden.tolerance, 'probabilities');
    assert.deepEqual(header.outputs[1].data, golden.outputs[0].data.slice(0, images));
  });

  it('keeps INT64 exact, and carries BYTES and FP16 as raw bytes both ways', async () => {
    const int64 = Buffer.from(new BigInt64Array([9007199254740993n, -9223372036854775808n]).buffer);
    const a = await send('identity_int64', { inputs: [{ name: 'x', datatype: 'INT64', shape: [1, 2], parameters: { binary_data_size: 16 } }], parameters: { binary_data_output: true } }, [int64]);
    const { parts } = readBinaryAnswer(a.body, Number(a.headers.get('inference-header-content-length')));
    assert.deepEqual(Array.from(new BigInt64Array(parts.get('y')!.buffer.slice(parts.get('y')!.byteOffset, parts.get('y')!.byteOffset + 16))), [9007199254740993n, -9223372036854775808n]);

    const strings = ['héllo', ''].map((t) => { const b = Buffer.from(t); const l = Buffer.alloc(4); l.writeUInt32LE(b.length); return Buffer.concat([l, b]); });
    const bytes = Buffer.concat(strings);
    const b = await send('identity_bytes', { inputs: [{ name: 'x', datatype: 'BYTES', shape: [1, 2], parameters: { binary_data_size: bytes.length } }], parameters: { binary_data_output: true } }, [bytes]);
    const back = readBinaryAnswer(b.body, Number(b.headers.get('inference-header-content-length'))).parts.get('y')!;
    assert.deepEqual(back, bytes);

    const half = Buffer.from(new Uint16Array([0x3e00, 0xc000]).buffer); // 1.5, -2
    const c = await send('identity_fp16', { inputs: [{ name: 'x', datatype: 'FP16', shape: [1, 2], parameters: { binary_data_size: 4 } }] }, [half]);
    assert.deepEqual(JSON.parse(c.body.toString()).outputs[0].data, [1.5, -2]);
  });

  const errorOf = async (answer: { status: number; body: Buffer }) => ({ status: answer.status, error: JSON.parse(answer.body.toString()).error as string });

  it('rejects a binary size that does not match the shape, naming the input', async () => {
    const result = await errorOf(await send('digits_mlp', { inputs: [{ name: 'image', datatype: 'FP32', shape: [images, 8, 8], parameters: { binary_data_size: imageBytes.length - 4 } }] }, [imageBytes.subarray(4)]));
    assert.deepEqual(result, { status: 400, error: `input "image" binary_data_size is ${imageBytes.length - 4} bytes but shape [${images},8,8] of FP32 needs ${imageBytes.length}` });
  });

  it('rejects a header length past the body, a missing binary part and leftover bytes', async () => {
    const header = { inputs: [{ name: 'image', datatype: 'FP32', shape: [images, 8, 8], parameters: { binary_data_size: imageBytes.length } }] };
    assert.match((await errorOf(await send('digits_mlp', header, [imageBytes], 10 ** 7))).error, /^Inference-Header-Content-Length is "10000000" but the body has \d+ bytes/);
    assert.match((await errorOf(await send('digits_mlp', header, []))).error, /declares \d+ binary bytes but only 0 remain after the JSON header/);
    assert.match((await errorOf(await send('digits_mlp', header, [imageBytes, Buffer.alloc(8)]))).error, /^the binary part has \d+ bytes but the inputs' binary_data_size add up to \d+$/);
    const plain = await fetch(`${server.url}/v2/models/digits_mlp/infer`, { method: 'POST', body: JSON.stringify(header) });
    assert.match(((await plain.json()) as { error: string }).error, /declares binary_data_size but the request has no binary part/);
  });

  it('works through the Lambda handler with API Gateway binary media types (base64 both ways)', async () => {
    const handler = createApiGatewayHandler(createTestService(SAMPLES_DIR));
    const request = binaryRequest({ inputs: [{ name: 'image', datatype: 'FP32', shape: [images, 8, 8], parameters: { binary_data_size: imageBytes.length } }], parameters: { binary_data_output: true } }, [imageBytes]);
    const event = { httpMethod: 'POST', path: '/v2/models/digits_mlp/infer', headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(request.headerLength) }, body: request.body.toString('base64'), isBase64Encoded: true, requestContext: {} };
    const result = await handler(event as unknown as APIGatewayProxyEvent, fakeLambdaContext());
    assert.equal(result.statusCode, 200, result.body);
    assert.equal(result.isBase64Encoded, true);
    const { parts } = readBinaryAnswer(Buffer.from(result.body, 'base64'), Number(result.headers!['Inference-Header-Content-Length']));
    assertClose(floats(parts.get('probabilities')!), golden.outputs[1].data.slice(0, images * 10), golden.tolerance, 'probabilities');
  });

  it('works on the SageMaker container server', async () => {
    const sm = await startTestSageMakerServer(createTestService(new SingleModelSource(new DirectorySource(join(SAMPLES_DIR, 'digits_mlp')), 'digits_mlp')), 'digits_mlp');
    try {
      const request = binaryRequest({ inputs: [{ name: 'image', datatype: 'FP32', shape: [images, 8, 8], parameters: { binary_data_size: imageBytes.length } }], parameters: { binary_data_output: true } }, [imageBytes]);
      const response = await fetch(`${sm.url}/invocations`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(request.headerLength) }, body: request.body });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('x-amzn-sagemaker-custom-attributes')!, /^model_version=1;inference_header_content_length=\d+$/);
      const { header } = readBinaryAnswer(Buffer.from(await response.arrayBuffer()), Number(response.headers.get('inference-header-content-length')));
      assert.equal(header.outputs.find((o) => o.name === 'label')!.parameters!.binary_data_size, images * 8, 'INT64 labels, 8 bytes each');
    } finally {
      await sm.close();
    }
  });
});
