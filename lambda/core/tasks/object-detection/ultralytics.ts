/**
 * Ultralytics YOLO detect exports (YOLOv5u, v8, v9, v11, and the end-to-end heads of v10, YOLO26):
 * recognized from the metadata_props Ultralytics' exporter writes into model.onnx
 * (ultralytics/engine/exporter.py: `task`, `names`, `imgsz`, `stride`, `end2end`), letterboxed,
 * and decoded as ultralytics/models/yolo/detect/predict.py `DetectionPredictor.postprocess` does:
 * `non_max_suppression` (ultralytics/utils/nms.py) then `scale_boxes` (ultralytics/utils/ops.py).
 */
import type { Signature } from '../../signature.ts';
import { byScore, type DetectionParameters, type IndexedDetection } from './detections.ts';
import { letterboxGeometry, letterboxTensor, unletterbox, type Letterbox } from './letterbox.ts';
import { nonMaxSuppression } from './nms.ts';

/** Ultralytics' predictor defaults (ultralytics/cfg/default.yaml: conf 0.25, iou 0.7, max_det 300). */
export const ULTRALYTICS_DEFAULTS = { threshold: 0.25, iouThreshold: 0.7, maxDetections: 300 } as const;

export interface UltralyticsDetector {
  readonly family: 'ultralytics';
  readonly labels: readonly string[];
  readonly input: string;
  readonly width: number;
  readonly height: number;
  readonly output: string;
  /** v10 / YOLO26 exported end to end: [1, N, 6] rows of x1, y1, x2, y2, score, class; no NMS. */
  readonly endToEnd: boolean;
  readonly stride: number;
}

/**
 * A Python literal as str() writes it in the metadata: {0: 'person', 1: "it's"}, [640, 640], True.
 * Only what Ultralytics writes is read: dicts, lists, ints, floats, strings, booleans, None.
 */
export function parsePythonLiteral(text: string): unknown {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`not a Python literal (${what} at ${i}): ${text.slice(0, 80)}`);
  };
  const space = (): void => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const value = (): unknown => {
    space();
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      const entries: [unknown, unknown][] = [];
      const items: unknown[] = [];
      space();
      while (text[i] !== close) {
        const first = value();
        space();
        if (c === '{') {
          if (text[i] !== ':') fail('expected ":"');
          i++;
          entries.push([first, value()]);
        } else items.push(first);
        space();
        if (text[i] === ',') i++;
        else if (text[i] !== close) fail(`expected "," or "${close}"`);
        space();
      }
      i++;
      return c === '{' ? Object.fromEntries(entries.map(([k, v]) => [String(k), v])) : items;
    }
    if (c === "'" || c === '"') {
      i++;
      let out = '';
      while (text[i] !== c) {
        if (i >= text.length) fail('unterminated string');
        if (text[i] === '\\') {
          const e = text[++i];
          const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"' };
          if (e in simple) out += simple[e];
          else if (e === 'x' || e === 'u' || e === 'U') {
            const length = e === 'x' ? 2 : e === 'u' ? 4 : 8;
            out += String.fromCodePoint(parseInt(text.slice(i + 1, i + 1 + length), 16));
            i += length;
          } else out += `\\${e}`;
          i++;
        } else out += text[i++];
      }
      i++;
      return out;
    }
    const word = /^(-?[0-9][0-9_.eE+-]*|True|False|None)/.exec(text.slice(i))?.[0] ?? fail('unexpected character');
    i += word.length;
    return word === 'True' ? true : word === 'False' ? false : word === 'None' ? null : Number(word.replaceAll('_', ''));
  };
  const result = value();
  space();
  if (i !== text.length) fail('trailing text');
  return result;
}

/** Whether model.onnx's metadata says it is an Ultralytics detector. */
export const isUltralyticsDetector = (metadata: Readonly<Record<string, string>>): boolean => metadata.task === 'detect' && metadata.names !== undefined;

/** Whether model.onnx's metadata says it is an Ultralytics export of another task. */
export const ultralyticsTask = (metadata: Readonly<Record<string, string>>): string | undefined => (metadata.names !== undefined && metadata.imgsz !== undefined ? metadata.task : undefined);

const describeOutputs = (signature: Signature): string => signature.outputs.map((o) => `"${o.name}" [${o.shape.join(', ')}]`).join(', ');

/** The detector an Ultralytics export describes; throws naming what does not fit. */
export function readUltralytics(metadata: Readonly<Record<string, string>>, signature: Signature, where: string): UltralyticsDetector {
  const read = (key: string): unknown => {
    try {
      return parsePythonLiteral(metadata[key]);
    } catch (error) {
      throw new Error(`${where}: model.onnx metadata "${key}" is ${(error as Error).message}`);
    }
  };
  const names = read('names') as Record<string, unknown>;
  if (typeof names !== 'object' || names === null || Array.isArray(names)) throw new Error(`${where}: model.onnx metadata "names" is not a {index: name} dict: ${metadata.names.slice(0, 80)}`);
  const labels: string[] = [];
  for (const [k, v] of Object.entries(names)) labels[Number(k)] = String(v);
  const classes = Array.from(labels, (l, i) => l ?? String(i));
  if (signature.inputs.length !== 1 || signature.inputs[0].datatype.ort !== 'float32') throw new Error(`${where}: an Ultralytics detector takes one float32 image input; this one has ${signature.inputs.map((i) => `"${i.name}" ${i.datatype.ort}`).join(', ')} (export with half=False)`);
  const input = signature.inputs[0];
  const imgsz = metadata.imgsz === undefined ? undefined : read('imgsz');
  const size = Array.isArray(imgsz) ? (imgsz as number[]) : typeof imgsz === 'number' ? [imgsz, imgsz] : [input.shape[2], input.shape[3]];
  const [height, width] = size;
  if (!(height > 0 && width > 0)) throw new Error(`${where}: the input size is not known: model.onnx metadata has no "imgsz" and the input "${input.name}" is [${input.shape.join(', ')}]`);
  if ((input.shape[2] > 0 && input.shape[2] !== height) || (input.shape[3] > 0 && input.shape[3] !== width)) throw new Error(`${where}: model.onnx metadata "imgsz" ${metadata.imgsz} disagrees with the input "${input.name}" [${input.shape.join(', ')}]`);
  const output = signature.outputs[0];
  const dims = output?.shape ?? [];
  const endToEnd = metadata.end2end === 'True' || (dims.length === 3 && dims[2] === 6 && dims[1] !== 4 + classes.length);
  const fits = dims.length === 3 && (endToEnd ? dims[2] === 6 : dims[1] === 4 + classes.length);
  if (!fits) {
    const layout = endToEnd ? '[1, detections, 6] (x1, y1, x2, y2, score, class)' : `[1, ${4 + classes.length}, anchors] (4 box values and ${classes.length} class scores)`;
    throw new Error(`${where}: an Ultralytics detector with ${classes.length} classes must output ${layout}; this one outputs ${describeOutputs(signature)}`);
  }
  return { family: 'ultralytics', labels: classes, input: input.name, width, height, output: output.name, endToEnd, stride: Number(metadata.stride ?? 32) };
}

/** The image (packed RGB, already upright) as the model's input, and where it landed. */
export function ultralyticsInput(model: UltralyticsDetector, rgb: Uint8Array, width: number, height: number): { pixels: Float32Array; dims: number[]; letterbox: Letterbox } {
  const letterbox = letterboxGeometry(width, height, model.width, model.height);
  return { pixels: letterboxTensor(rgb, width, height, letterbox), dims: [1, 3, model.height, model.width], letterbox };
}

const f = Math.fround;

/** One image's detections from the model's output (its batch row `row`), in the original image's pixels. */
export function ultralyticsDetections(model: UltralyticsDetector, output: { readonly data: Float32Array; readonly dims: readonly number[] }, row: number, imageWidth: number, imageHeight: number, parameters: DetectionParameters): IndexedDetection[] {
  const conf = parameters.threshold ?? ULTRALYTICS_DEFAULTS.threshold;
  const maxDetections = parameters.maxDetections ?? ULTRALYTICS_DEFAULTS.maxDetections;
  const wanted = parameters.classes;
  const detection = (box: [number, number, number, number], score: number, index: number): IndexedDetection => {
    const [xmin, ymin, xmax, ymax] = unletterbox(box, imageWidth, imageHeight, model.width, model.height);
    return { score, label: model.labels[index] ?? String(index), index, box: { xmin, ymin, xmax, ymax } };
  };
  if (model.endToEnd) {
    // non_max_suppression's end-to-end branch: score over conf, class filter, the first max_det rows.
    const [, rows, width] = output.dims;
    const out: IndexedDetection[] = [];
    for (let r = 0; r < rows && out.length < maxDetections; r++) {
      const o = (row * rows + r) * width;
      const d = output.data;
      if (!(d[o + 4] > conf)) continue;
      const index = Math.round(d[o + 5]);
      if (wanted !== undefined && !wanted.has(index)) continue;
      out.push(detection([d[o], d[o + 1], d[o + 2], d[o + 3]], d[o + 4], index));
    }
    return byScore(out);
  }
  const [, channels, anchors] = output.dims;
  const classes = channels - 4;
  const base = row * channels * anchors;
  const data = output.data;
  // Candidates: the best class of each anchor over conf (then the class filter), boxes xywh to xyxy in float32 as torch.
  const boxes: number[] = [];
  const scores: number[] = [];
  const labels: number[] = [];
  for (let a = 0; a < anchors; a++) {
    let best = -Infinity;
    let index = 0;
    for (let c = 0; c < classes; c++) {
      const score = data[base + (4 + c) * anchors + a];
      if (score > best) {
        best = score;
        index = c;
      }
    }
    if (!(best > conf) || (wanted !== undefined && !wanted.has(index))) continue;
    const x = data[base + a];
    const y = data[base + anchors + a];
    const w = f(data[base + 2 * anchors + a] / 2);
    const h = f(data[base + 3 * anchors + a] / 2);
    boxes.push(f(x - w), f(y - h), f(x + w), f(y + h));
    scores.push(best);
    labels.push(index);
  }
  const candidates = { boxes: Float32Array.from(boxes), scores: Float32Array.from(scores), classes: Int32Array.from(labels), count: scores.length };
  const kept = nonMaxSuppression(candidates, parameters.iouThreshold ?? ULTRALYTICS_DEFAULTS.iouThreshold, maxDetections);
  return byScore(kept.map((i) => detection([candidates.boxes[i * 4], candidates.boxes[i * 4 + 1], candidates.boxes[i * 4 + 2], candidates.boxes[i * 4 + 3]], candidates.scores[i], candidates.classes[i])));
}
