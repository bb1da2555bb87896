/**
 * Hugging Face `*ForObjectDetection` exports (DETR, Conditional DETR, Deformable DETR, YOLOS,
 * Table Transformer, RT-DETR, RT-DETRv2, D-FINE): queries of class logits and centre boxes relative
 * to the image. Preprocessing from preprocessor_config.json as the image processors do it
 * (transformers/image_transforms.py `get_size_with_aspect_ratio` for shortest/longest edge,
 * rescale, normalize, pad with a pixel mask); post-processing as each processor's
 * `post_process_object_detection`:
 * - DETR, YOLOS, Table Transformer (models/detr/image_processing_detr.py): softmax over the classes
 *   and the last, "no object", class; each query's best real class; kept over the threshold;
 * - RT-DETR, D-FINE (models/rt_detr/image_processing_rt_detr.py) and Conditional / Deformable DETR:
 *   a sigmoid per class, then the top k (query, class) pairs over all queries (k = the number of
 *   queries for RT-DETR and D-FINE, 100 for Conditional and Deformable DETR); a query may answer
 *   twice, with two classes.
 * Boxes go from (cx, cy, w, h) to corners, times the original image's width and height, answered as
 * the pipeline answers them (pipelines/object_detection.py `_get_bounding_box`): whole pixels.
 */
import type { Signature } from '../../signature.ts';
import { byScore, type DetectionParameters, type IndexedDetection } from './detections.ts';
import { pythonRound } from './letterbox.ts';
import { nonMaxSuppression } from './nms.ts';

export interface HfDetector {
  readonly family: 'hf';
  readonly architecture: string;
  readonly labels: readonly string[];
  readonly pixelValues: string;
  readonly pixelMask?: string;
  readonly logits: string;
  readonly boxes: string;
  /** softmax: a trailing no-object class; sigmoid: top-k over (query, class) pairs. */
  readonly head: { readonly kind: 'softmax' } | { readonly kind: 'sigmoid'; readonly topK?: number };
  readonly resize?: { readonly shortestEdge?: number; readonly longestEdge?: number } | { readonly width: number; readonly height: number } | { readonly maxWidth: number; readonly maxHeight: number };
  readonly kernel: 'nearest' | 'linear' | 'cubic' | 'lanczos3';
  readonly rescale: number;
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
  /** Pad to this size (bottom and right, zeros, mask 0 there), as pad_size asks. */
  readonly padTo?: { readonly width: number; readonly height: number };
}

/** The pipeline's default threshold (transformers/pipelines/object_detection.py `postprocess`). */
export const HF_DEFAULT_THRESHOLD = 0.5;

/** Architectures whose heads are sigmoid per class (focal loss), with post_process_object_detection's top k. */
const SIGMOID_HEADS: readonly { readonly prefix: string; readonly topK?: number }[] = [
  { prefix: 'RTDetr' },
  { prefix: 'DFine' },
  { prefix: 'RfDetr' },
  { prefix: 'ConditionalDetr', topK: 100 },
  { prefix: 'DeformableDetr', topK: 100 },
];

const triple = (value: unknown, fallback: number): [number, number, number] => {
  if (typeof value === 'number') return [value, value, value];
  if (Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === 'number')) return value as [number, number, number];
  return [fallback, fallback, fallback];
};

const KERNELS: Record<number, HfDetector['kernel']> = { 0: 'nearest', 1: 'lanczos3', 2: 'linear', 3: 'cubic', 4: 'linear', 5: 'cubic' };

function findName(names: readonly string[], candidates: readonly string[]): string | undefined {
  return candidates.find((c) => names.includes(c));
}

/** The detector a `*ForObjectDetection` folder describes; throws naming the outputs when they are not a detector's. */
export function readHfDetector(architecture: string, labels: readonly string[], preprocessor: Record<string, unknown> | undefined, signature: Signature, where: string, imageInput?: string): HfDetector {
  const outputs = signature.outputs.map((o) => o.name);
  const inputs = signature.inputs.map((i) => i.name);
  const found = `it has outputs ${signature.outputs.map((o) => `"${o.name}" [${o.shape.join(', ')}]`).join(', ')}`;
  const logits = findName(outputs, ['logits', 'pred_logits', 'scores']);
  const boxes = findName(outputs, ['pred_boxes', 'boxes', 'bboxes']);
  if (logits === undefined || boxes === undefined) throw new Error(`${where}: a ${architecture || 'detection'} export must output class logits ("logits") and boxes ("pred_boxes"), as Optimum names them; ${found}`);
  const logitsShape = signature.outputs.find((o) => o.name === logits)!.shape;
  const boxesShape = signature.outputs.find((o) => o.name === boxes)!.shape;
  if (logitsShape.length !== 3 || boxesShape.length !== 3 || (boxesShape[2] !== 4 && boxesShape[2] !== -1)) throw new Error(`${where}: "${logits}" must be [batch, queries, classes] and "${boxes}" [batch, queries, 4]; ${found}`);
  const sigmoid = SIGMOID_HEADS.find((h) => architecture.startsWith(h.prefix));
  const classes = logitsShape[2];
  if (classes > 0 && classes !== labels.length && classes !== labels.length + 1) throw new Error(`${where}: "${logits}" scores ${classes} classes but id2label names ${labels.length} (a softmax head adds one, "no object"); ${found}`);
  // A softmax head has one more class than id2label: "no object". Trust the shape over the name.
  const head: HfDetector['head'] = classes > 0 && classes === labels.length + 1 ? { kind: 'softmax' } : classes > 0 && classes === labels.length ? { kind: 'sigmoid', topK: sigmoid?.topK } : sigmoid !== undefined ? { kind: 'sigmoid', topK: sigmoid.topK } : { kind: 'softmax' };
  const pixelValues = imageInput ?? findName(inputs, ['pixel_values', 'images', 'input']) ?? (inputs.length === 1 ? inputs[0] : undefined);
  if (pixelValues === undefined) throw new Error(`${where}: which input takes the image? The model has ${inputs.join(', ')}; name it in config.json "inputNames": {"image": ...}`);
  const p = preprocessor ?? {};
  const size = p.size as Record<string, number> | number | undefined;
  let resize: HfDetector['resize'];
  if (p.do_resize !== false) {
    if (typeof size === 'number') resize = { shortestEdge: size, longestEdge: typeof p.max_size === 'number' ? p.max_size : undefined };
    else if (size?.shortest_edge !== undefined || size?.longest_edge !== undefined) resize = { shortestEdge: size.shortest_edge, longestEdge: size.longest_edge };
    else if (size?.height !== undefined && size.width !== undefined) resize = { width: size.width, height: size.height };
    else if (size?.max_height !== undefined && size.max_width !== undefined) resize = { maxWidth: size.max_width, maxHeight: size.max_height };
    else {
      const shape = signature.inputs.find((i) => i.name === pixelValues)!.shape;
      if (shape[2] > 0 && shape[3] > 0) resize = { width: shape[3], height: shape[2] };
    }
  }
  const pad = p.pad_size as Record<string, number> | undefined;
  const normalize = p.do_normalize !== false;
  return {
    family: 'hf',
    architecture,
    labels,
    pixelValues,
    pixelMask: inputs.includes('pixel_mask') ? 'pixel_mask' : undefined,
    logits,
    boxes,
    head,
    resize,
    kernel: KERNELS[Number(p.resample ?? 2)] ?? 'linear',
    rescale: p.do_rescale === false ? 1 : typeof p.rescale_factor === 'number' ? p.rescale_factor : 1 / 255,
    mean: normalize ? triple(p.image_mean, 0.5) : [0, 0, 0],
    std: normalize ? triple(p.image_std, 0.5) : [1, 1, 1],
    padTo: p.do_pad !== false && pad?.height !== undefined && pad.width !== undefined ? { width: pad.width, height: pad.height } : undefined,
  };
}

/** The size the image processor resizes a width x height image to. */
export function hfResizeTo(model: Pick<HfDetector, 'resize'>, width: number, height: number): { width: number; height: number } {
  const resize = model.resize;
  if (resize === undefined) return { width, height };
  if ('width' in resize) return { width: resize.width, height: resize.height };
  if ('maxWidth' in resize) {
    // image_transforms.py get_image_size_for_max_height_width: the largest size inside the box, aspect kept.
    const scale = Math.min(resize.maxHeight / height, resize.maxWidth / width);
    return { width: Math.trunc(width * scale), height: Math.trunc(height * scale) };
  }
  const { shortestEdge, longestEdge } = resize;
  if (shortestEdge === undefined) {
    // Only a longest edge (YOLOS-style): scale the long side down to it.
    const scale = Math.min(1, longestEdge! / Math.max(width, height));
    return { width: Math.trunc(width * scale), height: Math.trunc(height * scale) };
  }
  // image_transforms.py get_size_with_aspect_ratio(image_size, size, max_size).
  let size = shortestEdge;
  let raw: number | undefined;
  if (longestEdge !== undefined) {
    const min = Math.min(width, height);
    const max = Math.max(width, height);
    if ((max / min) * size > longestEdge) {
      raw = (longestEdge * min) / max;
      size = pythonRound(raw);
    }
  }
  if ((height <= width && height === size) || (width <= height && width === size)) return { width, height };
  if (width < height) return { width: size, height: Math.trunc(((raw ?? size) * height) / width) };
  return { width: Math.trunc(((raw ?? size) * width) / height), height: size };
}

/** Packed RGB at the processor's size to the model's pixel_values (and pixel_mask): rescale, normalize, pad. */
export function hfInput(model: HfDetector, rgb: Uint8Array, width: number, height: number): { pixels: Float32Array; dims: number[]; mask?: BigInt64Array } {
  const outW = Math.max(width, model.padTo?.width ?? 0);
  const outH = Math.max(height, model.padTo?.height ?? 0);
  const plane = outW * outH;
  const pixels = new Float32Array(plane * 3);
  const mask = model.pixelMask === undefined ? undefined : new BigInt64Array(plane);
  const { rescale, mean, std } = model;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 3;
      const d = y * outW + x;
      for (let c = 0; c < 3; c++) pixels[c * plane + d] = (rgb[s + c] * rescale - mean[c]) / std[c];
      if (mask !== undefined) mask[d] = 1n;
    }
  }
  return { pixels, dims: [1, 3, outH, outW], mask };
}

const f = Math.fround;

/** One image's detections from the logits and boxes (batch row `row`), in the original image's whole pixels. */
export function hfDetections(model: HfDetector, logits: { readonly data: Float32Array; readonly dims: readonly number[] }, boxes: { readonly data: Float32Array }, row: number, imageWidth: number, imageHeight: number, parameters: DetectionParameters): IndexedDetection[] {
  const threshold = parameters.threshold ?? HF_DEFAULT_THRESHOLD;
  const [, queries, classes] = logits.dims;
  const picked: { query: number; index: number; score: number }[] = [];
  if (model.head.kind === 'softmax') {
    for (let q = 0; q < queries; q++) {
      const o = (row * queries + q) * classes;
      let max = -Infinity;
      for (let c = 0; c < classes; c++) max = Math.max(max, logits.data[o + c]);
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += Math.exp(logits.data[o + c] - max);
      let best = 0;
      for (let c = 1; c < classes - 1; c++) if (logits.data[o + c] > logits.data[o + best]) best = c;
      const score = f(Math.exp(logits.data[o + best] - max) / sum);
      if (score > threshold) picked.push({ query: q, index: best, score });
    }
  } else {
    // torch.topk over the flattened (query, class) sigmoid scores: best first, ties by lower index.
    const all: { query: number; index: number; score: number }[] = [];
    for (let q = 0; q < queries; q++) {
      for (let c = 0; c < classes; c++) all.push({ query: q, index: c, score: f(1 / (1 + Math.exp(-logits.data[(row * queries + q) * classes + c]))) });
    }
    const k = Math.min(model.head.topK ?? queries, all.length);
    for (const entry of byScore(all).slice(0, k)) if (entry.score > threshold) picked.push(entry);
  }
  const wanted = parameters.classes;
  const kept = picked.filter((p) => wanted === undefined || wanted.has(p.index));
  const corners = kept.map(({ query }) => {
    const o = (row * queries + query) * 4;
    const [cx, cy, w, h] = [boxes.data[o], boxes.data[o + 1], boxes.data[o + 2], boxes.data[o + 3]];
    // center_to_corners_format, then times (w, h, w, h), in float32 as torch.
    return [f(f(cx - f(0.5 * w)) * imageWidth), f(f(cy - f(0.5 * h)) * imageHeight), f(f(cx + f(0.5 * w)) * imageWidth), f(f(cy + f(0.5 * h)) * imageHeight)];
  });
  let order = kept.map((_, i) => i);
  if (parameters.iouThreshold !== undefined) {
    // These heads need no NMS; a caller asking for one gets it class by class, as for YOLO.
    order = nonMaxSuppression({ boxes: Float32Array.from(corners.flat()), scores: Float32Array.from(kept.map((k) => k.score)), classes: Int32Array.from(kept.map((k) => k.index)), count: kept.length }, parameters.iouThreshold, kept.length);
  }
  const detections = order.map((i) => {
    const [xmin, ymin, xmax, ymax] = corners[i].map((v) => Math.trunc(v));
    return { score: kept[i].score, label: model.labels[kept[i].index] ?? String(kept[i].index), index: kept[i].index, box: { xmin, ymin, xmax, ymax } };
  });
  return byScore(detections).slice(0, parameters.maxDetections ?? detections.length);
}
