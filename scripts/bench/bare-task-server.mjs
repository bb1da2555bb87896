// The bare baselines for image and text requests: a plain Node http server doing only what the
// task needs, with the same libraries ModelShip uses, no validation and no framework.
//   POST /image  body: JPEG or PNG bytes -> sharp (EXIF rotate, resize to 192x48, raw RGB) ->
//                normalize -> session.run -> [{label, score}] of the 2 classes
//   POST /text   body: text -> @huggingface/tokenizers -> session.run -> [{label, score}] softmax
//   POST /embeddings  body: {"input": [texts]} -> tokenizer, padded batch -> session.run -> mean pool
//                over the mask -> L2 normalize -> {"data": [{"embedding": [...]}]}
// Usage: node bare-task-server.mjs MODELS_DIR PORT
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import ort from 'onnxruntime-node';
import sharp from 'sharp';

const [models, port] = process.argv.slice(2);
const options = { intraOpNumThreads: 1, interOpNumThreads: 1, extra: { session: { intra_op: { allow_spinning: '0' } } } };
const image = await ort.InferenceSession.create(join(models, 'text_orientation', '1', 'model.onnx'), options);
const text = await ort.InferenceSession.create(join(models, 'debian_sections', '1', 'model.onnx'), options);
const folder = join(models, 'debian_sections', '1');
const tokenizer = new Tokenizer(JSON.parse(readFileSync(join(folder, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(folder, 'tokenizer_config.json'), 'utf8')));
const labels = Object.values(JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')).id2label);
const embedder = await ort.InferenceSession.create(join(models, 'debian_embeddings', '1', 'model.onnx'), options);
const embedderFolder = join(models, 'debian_embeddings', '1');
const embedderTokenizer = new Tokenizer(JSON.parse(readFileSync(join(embedderFolder, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(embedderFolder, 'tokenizer_config.json'), 'utf8')));

function embed(texts) {
  const encoded = texts.map((t) => embedderTokenizer.encode(t).ids);
  const length = Math.max(...encoded.map((ids) => ids.length));
  const ids = new BigInt64Array(texts.length * length);
  const mask = new BigInt64Array(texts.length * length);
  encoded.forEach((row, r) => row.forEach((id, j) => ((ids[r * length + j] = BigInt(id)), (mask[r * length + j] = 1n))));
  const dims = [texts.length, length];
  return embedder.run({ input_ids: new ort.Tensor('int64', ids, dims), attention_mask: new ort.Tensor('int64', mask, dims) }).then((out) => {
    const hidden = out.last_hidden_state.data;
    const size = hidden.length / (texts.length * length);
    return encoded.map((row, r) => {
      const v = new Array(size).fill(0);
      for (let j = 0; j < row.length; j++) for (let d = 0; d < size; d++) v[d] += hidden[(r * length + j) * size + d];
      const norm = Math.hypot(...v);
      return { embedding: v.map((x) => x / norm) };
    });
  });
}

const softmax = (xs) => {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
};
createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks);
    let answer;
    if (req.url === '/embeddings') {
      answer = { data: await embed(JSON.parse(body.toString('utf8')).input) };
    } else if (req.url === '/image') {
      const { data } = await sharp(body).rotate().removeAlpha().resize(192, 48, { fit: 'fill', kernel: 'linear' }).raw().toBuffer({ resolveWithObject: true });
      const pixels = new Float32Array(3 * 48 * 192);
      for (let i = 0; i < 48 * 192; i++) for (let c = 0; c < 3; c++) pixels[c * 48 * 192 + i] = (data[i * 3 + c] / 255 - 0.5) / 0.5;
      const out = (await image.run({ x: new ort.Tensor('float32', pixels, [1, 3, 48, 192]) }))[image.outputNames[0]].data;
      answer = [{ label: '0', score: out[0] }, { label: '180', score: out[1] }].sort((a, b) => b.score - a.score);
    } else {
      const { ids } = tokenizer.encode(body.toString('utf8'));
      const dims = [1, ids.length];
      const out = (await text.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), dims), attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), dims) })).logits.data;
      answer = softmax(Array.from(out)).map((score, i) => ({ label: labels[i], score })).sort((a, b) => b.score - a.score);
    }
    const json = JSON.stringify(answer);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json) });
    res.end(json);
  });
}).listen(Number(port), '127.0.0.1', () => console.log('ready'));
