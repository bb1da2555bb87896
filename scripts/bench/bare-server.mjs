// The bare baseline: a plain Node http server around onnxruntime-node, no validation, no
// framework: POST /predict {"features": [...]} -> {"prediction": [...]}. Usage: node bare-server.mjs MODEL PORT
import { createServer } from 'node:http';
import ort from 'onnxruntime-node';

const [model, port] = process.argv.slice(2);
const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1, extra: { session: { intra_op: { allow_spinning: '0' } } } });
const input = session.inputNames[0];
createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const features = JSON.parse(Buffer.concat(chunks)).features;
    const tensor = new ort.Tensor('float32', Float32Array.from(features), [1, features.length]);
    const out = await session.run({ [input]: tensor });
    const body = JSON.stringify({ prediction: Array.from(out[session.outputNames[session.outputNames.length - 1]].data) });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
}).listen(Number(port), '127.0.0.1', () => console.log('ready'));
