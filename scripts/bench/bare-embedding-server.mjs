// The bare baseline for image embeddings: a plain Node http server doing only what the task needs,
// with the same libraries ModelShip uses, no validation and no framework.
//   POST /embed  body: JPEG or PNG bytes -> sharp (EXIF rotate, resize to the model's 224x224,
//                raw RGB) -> rescale and normalize -> session.run -> the CLS token -> [[...]]
// Usage: node bare-embedding-server.mjs MODEL_FOLDER PORT
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import sharp from 'sharp';

const [folder, port] = process.argv.slice(2);
const options = { intraOpNumThreads: 1, interOpNumThreads: 1, extra: { session: { intra_op: { allow_spinning: '0' } } } };
const session = await ort.InferenceSession.create(join(folder, 'model.onnx'), options);
const pre = JSON.parse(readFileSync(join(folder, 'preprocessor_config.json'), 'utf8'));
const { height, width } = pre.size;
const plane = height * width;

createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const { data } = await sharp(Buffer.concat(chunks)).rotate().removeAlpha().resize(width, height, { fit: 'fill', kernel: 'linear' }).raw().toBuffer({ resolveWithObject: true });
    const pixels = new Float32Array(3 * plane);
    for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) pixels[c * plane + i] = (data[i * 3 + c] * pre.rescale_factor - pre.image_mean[c]) / pre.image_std[c];
    const hidden = (await session.run({ pixel_values: new ort.Tensor('float32', pixels, [1, 3, height, width]) }, ['last_hidden_state'])).last_hidden_state;
    const dims = hidden.dims[2];
    const json = JSON.stringify([Array.from(hidden.data.subarray(0, dims))]);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json) });
    res.end(json);
  });
}).listen(Number(port), '127.0.0.1', () => console.log('ready'));
