// The bare baseline for large tensors: a plain Node http server around onnxruntime-node doing the
// same work as ModelShip over the same transport, and nothing else. Usage: node bare-large-server.mjs MODEL PORT
//   POST /binary  body: the input's raw little-endian FP32 bytes; answer: the first output's raw bytes
//   POST /json    body: {"shape": [...], "data": [...]}; answer: {"shape": [...], "data": [...]}
import { createServer } from 'node:http';
import ort from 'onnxruntime-node';

const [model, port] = process.argv.slice(2);
const session = await ort.InferenceSession.create(model, { intraOpNumThreads: Number(process.env.ORT_INTRA_OP_THREADS ?? 1), interOpNumThreads: 1, extra: { session: { intra_op: { allow_spinning: '0' } } } });
const [input] = session.inputNames;
const [output] = session.outputNames;
const shape = session.inputMetadata[0].shape.map((d) => (typeof d === 'number' ? d : 1));
createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks);
    if (req.url === '/binary') {
      const data = new Float32Array(body.buffer, body.byteOffset, body.byteLength / 4);
      const out = (await session.run({ [input]: new ort.Tensor('float32', data, shape) }))[output];
      const bytes = Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength);
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length });
      res.end(bytes);
      return;
    }
    const request = JSON.parse(body);
    const out = (await session.run({ [input]: new ort.Tensor('float32', Float32Array.from(request.data), request.shape) }))[output];
    const text = JSON.stringify({ shape: out.dims, data: Array.from(out.data) });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  });
}).listen(Number(port), '127.0.0.1', () => console.log('ready'));
