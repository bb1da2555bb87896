/**
 * object-detection (transformers' pipelines/object_detection.py): an image (raw, base64 in JSON,
 * :predict {"b64"}, or v2 BYTES) in, [{score, label, box: {xmin, ymin, xmax, ymax}}] out, best
 * first, boxes in the pixels of the image as displayed (EXIF orientation applied before anything).
 * Two families of exports, each with its own pre- and post-processing:
 * - Hugging Face `*ForObjectDetection` (DETR and its descendants): object-detection/hf-detr.ts;
 * - Ultralytics YOLO detect exports, recognized from model.onnx's metadata: object-detection/ultralytics.ts
 *   (letterbox, NMS, the end-to-end heads).
 * Parameters: threshold (score, in [0, 1]), iou_threshold (NMS), max_detections, classes (labels or
 * class indices to keep).
 */
import type { ModelConfig } from '../config.ts';
import { badRequest } from '../errors.ts';
import { IMAGE_CONTENT_TYPES, labelsOf } from './hf-folder.ts';
import { capturedImages } from './images.ts';
import { detectObjects, type Detector } from './object-detection/detect.ts';
import type { Detection, DetectionParameters, IndexedDetection } from './object-detection/detections.ts';
import { HF_DEFAULT_THRESHOLD, readHfDetector } from './object-detection/hf-detr.ts';
import { iou } from './object-detection/nms.ts';
import { isUltralyticsDetector, readUltralytics, ULTRALYTICS_DEFAULTS, ultralyticsTask } from './object-detection/ultralytics.ts';
import { parseItems, v2Answer, type ItemsRequest } from './task-inputs.ts';
import type { TaskFolder, TaskModule, TaskSignal } from './task.ts';

export interface ObjectDetector extends Detector {
  readonly config: ModelConfig;
}

interface DetectionRequest extends ItemsRequest<Uint8Array> {
  readonly checked: DetectionParameters;
}

const PARAMETERS = ['threshold', 'iou_threshold', 'max_detections', 'classes'] as const;

/** What drift watches per image: how many objects, how sure, how big. */
const SIGNALS: readonly TaskSignal[] = [
  { name: 'detections', kind: 'numeric' },
  { name: 'max_score', kind: 'numeric' },
  { name: 'mean_score', kind: 'numeric' },
  { name: 'mean_box_area', kind: 'numeric' },
];

/** The request's parameters checked against the model; 400 naming the parameter and what it takes. */
export function detectionParameters(detector: Detector['detector'], parameters: Readonly<Record<string, unknown>>): DetectionParameters {
  const fraction = (name: string): number | undefined => {
    const value = parameters[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw badRequest(`"parameters.${name}" must be a number in [0, 1], got ${JSON.stringify(value)}`, 'invalid_value');
    return value;
  };
  const max = parameters.max_detections;
  if (max !== undefined && !(Number.isInteger(max) && (max as number) > 0)) throw badRequest(`"parameters.max_detections" must be a positive integer, got ${JSON.stringify(max)}`, 'invalid_value');
  let classes: Set<number> | undefined;
  const wanted = parameters.classes;
  if (wanted !== undefined) {
    const list = Array.isArray(wanted) ? wanted : [wanted];
    if (list.length === 0) throw badRequest('"parameters.classes" is empty: name the labels (or class indices) to keep, or leave it out', 'invalid_value');
    const labels = detector.labels;
    classes = new Set(
      list.map((c) => {
        const index = typeof c === 'string' ? labels.indexOf(c) : Number.isInteger(c) && (c as number) >= 0 && (c as number) < labels.length ? (c as number) : -1;
        if (index < 0) throw badRequest(`"parameters.classes" names ${JSON.stringify(c)}, which this model does not detect; its labels are ${labels.slice(0, 20).map((l) => JSON.stringify(l)).join(', ')}${labels.length > 20 ? `, … (${labels.length} in all)` : ''}, or indices 0 to ${labels.length - 1}`, 'invalid_value');
        return index;
      }),
    );
  }
  return { threshold: fraction('threshold'), iouThreshold: fraction('iou_threshold'), maxDetections: max as number | undefined, classes };
}

const shown = (detections: readonly IndexedDetection[]): Detection[] => detections.map(({ score, label, box }) => ({ score, label, box }));

/** One row of drift signals per image: count, best and mean score, mean box area as a fraction of the image. */
function signalsOf(detections: readonly IndexedDetection[], size: { width: number; height: number }): number[] {
  const n = detections.length;
  const scores = detections.map((d) => d.score);
  const areas = detections.map(({ box }) => ((box.xmax - box.xmin) * (box.ymax - box.ymin)) / (size.width * size.height));
  const mean = (values: number[]): number => (values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length);
  return [n, n === 0 ? 0 : Math.max(...scores), mean(scores), mean(areas)];
}

/**
 * The golden gate's check of one image's answer: every expected detection matched by one answered
 * detection of the same label with IoU ≥ 0.9 and a score within `tolerance`, and nothing extra.
 */
export function compareDetections(expected: unknown, actual: unknown, tolerance: number): string | undefined {
  const isList = (v: unknown): v is Detection[] => Array.isArray(v) && v.every((d) => typeof d === 'object' && d !== null && 'box' in d && 'label' in d);
  if (!isList(expected)) return 'the expectation is not a list of detections';
  if (!isList(actual)) return 'the answer is not a list of detections';
  const used = new Set<number>();
  const box = (d: Detection): number[] => [d.box.xmin, d.box.ymin, d.box.xmax, d.box.ymax];
  for (const e of expected) {
    let best = -1;
    let bestIou = 0;
    actual.forEach((a, i) => {
      if (used.has(i) || a.label !== e.label) return;
      // Boxes equal to half a pixel count as one (a box clipped to a line has no area, so no IoU).
      const overlap = box(e).every((v, k) => Math.abs(v - box(a)[k]) <= 0.5) ? 1 : iou([...box(e), ...box(a)], 0, 1);
      if (overlap > bestIou) [best, bestIou] = [i, overlap];
    });
    if (best < 0 || bestIou < 0.9) return `no "${e.label}" at ${JSON.stringify(e.box)} (best IoU ${bestIou.toFixed(3)})`;
    if (Math.abs(actual[best].score - e.score) > tolerance) return `"${e.label}" at ${JSON.stringify(e.box)} scores ${actual[best].score}, expected ${e.score} ± ${tolerance}`;
    used.add(best);
  }
  if (actual.length > expected.length) return `${actual.length} detections answered, ${expected.length} expected`;
  return undefined;
}

function loadDetector(folder: TaskFolder): Detector['detector'] {
  const metadata = folder.metadata();
  const found = `it has inputs ${folder.signature.inputs.map((i) => `"${i.name}" [${i.shape.join(', ')}]`).join(', ')} and outputs ${folder.signature.outputs.map((o) => `"${o.name}" [${o.shape.join(', ')}]`).join(', ')}`;
  if (isUltralyticsDetector(metadata)) return readUltralytics(metadata, folder.signature, folder.where);
  const otherTask = ultralyticsTask(metadata);
  if (otherTask !== undefined) throw new Error(`${folder.where}: model.onnx is an Ultralytics "${otherTask}" export; object-detection serves "detect" exports (${found})`);
  const labels = labelsOf(folder);
  if (folder.architecture.endsWith('ForObjectDetection') || folder.signature.outputs.some((o) => o.name === 'pred_boxes')) {
    if (labels === undefined) throw new Error(`${folder.where}: a ${folder.architecture || 'detection'} export needs its labels: id2label in config.json, or "labels" in ModelShip's config.json`);
    return readHfDetector(folder.architecture, labels, folder.json('preprocessor_config.json'), folder.signature, folder.where, folder.config.inputNames?.image);
  }
  throw new Error(`${folder.where}: this model is not a detector ModelShip can read: ${found}. Serve a Hugging Face *ForObjectDetection export (logits and pred_boxes, with config.json) or an Ultralytics detect export (yolo export format=onnx keeps its metadata)`);
}

export const objectDetection: TaskModule<ObjectDetector, DetectionRequest> = {
  name: 'object-detection',
  sideFiles: ['config.json', 'preprocessor_config.json'],
  signals: SIGNALS,
  detect: (folder) => folder.architecture.endsWith('ForObjectDetection') || isUltralyticsDetector(folder.metadata()),
  load: (folder) => ({ detector: loadDetector(folder), config: folder.config, maxPixels: folder.config.image?.maxPixels ?? 40_000_000 }),
  contentTypes: () => IMAGE_CONTENT_TYPES,
  parse(loaded, input) {
    const request = parseItems(input, 'images', { task: 'object-detection', parameters: PARAMETERS, maxBatchSize: loaded.config.maxBatchSize });
    return request === undefined ? undefined : { ...request, checked: detectionParameters(loaded.detector, request.parameters) };
  },
  async run(loaded, request, context) {
    const { detections, sizes } = await detectObjects(loaded, request.items, request.checked, context, request.single);
    const classCounts: Record<string, number> = {};
    for (const list of detections) for (const d of list) classCounts[d.label] = (classCounts[d.label] ?? 0) + 1;
    const answers = detections.map(shown);
    // v2: one BYTES output, each image's detections as a JSON string (Triton's way for structured answers).
    const answer = request.v2 !== undefined ? v2Answer(context.model, request.v2, [{ name: 'detections', datatype: 'BYTES', shape: [answers.length], data: answers.map((a) => JSON.stringify(a)) }]) : request.predict ? { predictions: answers } : request.single ? answers[0] : answers;
    return { answer, items: request.items.length, classCounts, captured: () => ({ ...capturedImages(request.items, loaded.config), detections: answers }), signals: detections.map((list, i) => signalsOf(list, sizes[i])) };
  },
  describe(loaded) {
    const d = loaded.detector;
    const defaults = d.family === 'ultralytics' ? { threshold: ULTRALYTICS_DEFAULTS.threshold, iou_threshold: ULTRALYTICS_DEFAULTS.iouThreshold, max_detections: ULTRALYTICS_DEFAULTS.maxDetections } : { threshold: HF_DEFAULT_THRESHOLD };
    const input = d.family === 'ultralytics' ? { width: d.width, height: d.height, letterbox: true } : { resize: d.resize ?? 'none' };
    return { labels: d.labels, family: d.family === 'ultralytics' ? `ultralytics${d.endToEnd ? ' (end-to-end)' : ''}` : d.architecture || 'hugging face detr', input_size: input, parameters: defaults };
  },
  compare: compareDetections,
  example: () => undefined,
};
