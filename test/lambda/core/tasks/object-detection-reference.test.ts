/**
 * object-detection's pre- and post-processing against implementations no one here wrote, on the
 * same models and images (test/fixtures/object-detection, made by
 * training/vision_tasks/object_detection.py):
 * - Ultralytics 8.4.190 itself (training/vision_tasks/object_detection_reference.py runs its
 *   LetterBox, non_max_suppression and scale_boxes around the same ONNX files): the letterboxed
 *   pixels, the post-processing of its very raw outputs, and whole detections;
 * - transformers 5.23.0's post_process_object_detection (DETR softmax, RT-DETR sigmoid top-k) and
 *   get_size_with_aspect_ratio, from the same script;
 * - transformers.js 4.3.1's ObjectDetectionPipeline, run here on the same folder and images.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InferenceSession, type Tensor } from 'onnxruntime-node';
import { decodeModel } from '../../../../lambda/convert/onnx/onnx-model.ts';
import { decodeImage } from '../../../../lambda/core/tasks/images.ts';
import { readSignature } from '../../../../lambda/core/signature.ts';
import { detectObjects, type Detector } from '../../../../lambda/core/tasks/object-detection/detect.ts';
import type { Detection, DetectionParameters } from '../../../../lambda/core/tasks/object-detection/detections.ts';
import { hfResizeTo, readHfDetector } from '../../../../lambda/core/tasks/object-detection/hf-detr.ts';
import { letterboxGeometry, letterboxTensor } from '../../../../lambda/core/tasks/object-detection/letterbox.ts';
import { parsePythonLiteral, readUltralytics, ultralyticsDetections } from '../../../../lambda/core/tasks/object-detection/ultralytics.ts';
import { ROOT } from '../../../helpers.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'object-detection');
const IMAGES = ['scene.jpg', 'tall.png', 'wide.png', 'exif.jpg'];
const image = (name: string): Buffer => readFileSync(join(FIXTURES, 'images', name));
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8'));

/** model.onnx's metadata_props, read with the ONNX schema (the loader's own reader is tested elsewhere). */
const metadataOf = (folder: string): Record<string, string> => Object.fromEntries((decodeModel(readFileSync(join(FIXTURES, folder, 'model.onnx'))).metadataProps ?? []).map((p) => [p.key, p.value]));

async function open(folder: string): Promise<{ session: InferenceSession; run: (feeds: Record<string, Tensor>, outputs?: readonly string[]) => Promise<Record<string, Tensor>> }> {
  const session = await InferenceSession.create(join(FIXTURES, folder, 'model.onnx'), { intraOpNumThreads: 1 });
  return { session, run: (feeds, outputs) => session.run(feeds, outputs as string[]) };
}

const noMarks = { mark: () => undefined };

/** Same count, same labels in order, boxes within `px` and scores within `score` of the reference's. */
function assertDetections(actual: readonly Detection[], reference: readonly Detection[], where: string, px = 0.5, score = 1e-4): void {
  assert.equal(actual.length, reference.length, `${where}: ${actual.length} detections, the reference has ${reference.length}`);
  reference.forEach((r, i) => {
    const a = actual[i];
    assert.equal(a.label, r.label, `${where} #${i}: label`);
    assert.ok(Math.abs(a.score - r.score) <= score, `${where} #${i}: score ${a.score} vs ${r.score}`);
    for (const k of ['xmin', 'ymin', 'xmax', 'ymax'] as const) assert.ok(Math.abs(a.box[k] - r.box[k]) <= px, `${where} #${i}: ${k} ${a.box[k]} vs ${r.box[k]}`);
  });
}

/** Both sorted by score (Ultralytics' NMS answers that order; HF's post-processing answers query order). */
const sorted = (list: readonly Detection[]): Detection[] => [...list].sort((a, b) => b.score - a.score);

describe('Ultralytics exports against Ultralytics 8.4.190', () => {
  it('letterboxes every image to the pixels LetterBox gives (geometry and every row of the RGB image)', async () => {
    for (const name of IMAGES) {
      const reference = expected.yolov8.images[name];
      const decoded = await decodeImage(image(name), 1e8);
      assert.deepEqual([decoded.width, decoded.height], reference.size, `${name}: size once upright`);
      const box = letterboxGeometry(decoded.width, decoded.height, 320, 320);
      assert.deepEqual({ width: box.width, height: box.height, top: box.top, left: box.left }, reference.letterbox, name);
      const tensor = letterboxTensor(decoded.data, decoded.width, decoded.height, box);
      const plane = 320 * 320;
      const rows = Array.from({ length: 320 }, (_, y) => {
        let sum = 0;
        for (let i = y * 320; i < (y + 1) * 320; i++) for (let c = 0; c < 3; c++) sum += Math.round(tensor[c * plane + i] * 255);
        return sum;
      });
      assert.deepEqual(rows, reference.rowSums, `${name}: letterboxed rows`);
    }
  });

  for (const name of ['yolov8', 'yolo26']) {
    it(`${name}: post-processes Ultralytics' own raw output of scene.jpg to its detections`, () => {
      const model = readUltralytics(metadataOf(name), signatureOf(name), name);
      const reference = expected[name].images['scene.jpg'];
      const raw = readFileSync(join(FIXTURES, reference.raw.file));
      const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      const detections = ultralyticsDetections(model, { data, dims: reference.raw.dims }, 0, 640, 480, {});
      assert.ok(reference.detections.length > 3, 'the fixture has detections to compare');
      assertDetections(detections, reference.detections, `${name} scene.jpg`, 1e-3, 1e-7);
    });

    it(`${name}: detects on every image as Ultralytics' predictor does, with its defaults and with parameters`, async () => {
      const { session, run } = await open(name);
      const model: Detector = { detector: readUltralytics(metadataOf(name), readSignature(session), name), maxPixels: 1e8 };
      const variants: Record<string, DetectionParameters> = {
        'iou_threshold=0.3': { iouThreshold: 0.3 },
        'threshold=0.5,classes=[square]': { threshold: 0.5, classes: new Set([1]) },
        'max_detections=1': { maxDetections: 1 },
      };
      for (const name2 of IMAGES) {
        const reference = expected[name].images[name2];
        const { detections } = await detectObjects(model, [image(name2)], {}, { run, ...noMarks });
        assertDetections(detections[0], reference.detections, `${name} ${name2}`);
        for (const [key, parameters] of Object.entries(variants)) {
          const { detections: other } = await detectObjects(model, [image(name2)], parameters, { run, ...noMarks });
          assertDetections(other[0], reference.withParameters[key], `${name} ${name2} ${key}`);
        }
      }
      await session.release();
    });
  }

  it('pins decoding and class-wise NMS to chosen boxes (and agrees with Ultralytics on them)', async () => {
    for (const name of ['pinned-yolo', 'pinned-yolo-e2e']) {
      const { session, run } = await open(name);
      const model: Detector = { detector: readUltralytics(metadataOf(name), readSignature(session), name), maxPixels: 1e8 };
      // A 128x64 image: gain 0.5 into the 64x64 input, 16 grey rows above.
      const png = await pngOf(128, 64);
      const cases: Record<string, DetectionParameters> = { defaults: {}, 'iou_threshold=0.3': { iouThreshold: 0.3 }, 'threshold=0.7': { threshold: 0.7 }, 'classes=[square]': { classes: new Set([1]) }, 'max_detections=2': { maxDetections: 2 } };
      for (const [key, parameters] of Object.entries(cases)) {
        const { detections } = await detectObjects(model, [png], parameters, { run, ...noMarks });
        assertDetections(detections[0], expected[name][key], `${name} ${key}`, 1e-4, 1e-7);
      }
      await session.release();
    }
    // The chosen boxes, by hand: (10,20)-(30,40) at gain 0.5 under 16 rows of grey is (20,8)-(60,48).
    const { run, session } = await open('pinned-yolo');
    const { detections } = await detectObjects({ detector: readUltralytics(metadataOf('pinned-yolo'), signatureOf('pinned-yolo'), 'pinned'), maxPixels: 1e8 }, [await pngOf(128, 64)], {}, { run, ...noMarks });
    await session.release();
    assert.deepEqual(
      detections[0].map((d) => [d.label, Math.fround(d.score), [d.box.xmin, d.box.ymin, d.box.xmax, d.box.ymax]]),
      [
        ['circle', Math.fround(0.9), [20, 8, 60, 48]], // the second circle (IoU 0.82 with it) suppressed
        ['square', Math.fround(0.85), [20, 8, 60, 48]], // the same box in another class stays
        ['circle', Math.fround(0.6), [40, 8, 80, 48]], // IoU 1/3 with the first: under 0.7, kept
        ['square', Math.fround(0.5), [0, 0, 16, 28]], // reached into the padding: clipped to the image
      ],
    );
  });
});

const signatureCache = new Map<string, ReturnType<typeof readSignature>>();
function signatureOf(name: string): ReturnType<typeof readSignature> {
  const cached = signatureCache.get(name);
  if (cached === undefined) throw new Error(`open ${name} first`);
  return cached;
}
async function pngOf(width: number, height: number): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  return sharp({ create: { width, height, channels: 3, background: { r: 10, g: 200, b: 30 } } }).png().toBuffer();
}

before(async () => {
  for (const name of ['yolov8', 'yolo26', 'pinned-yolo', 'pinned-yolo-e2e', 'pinned-detr', 'pinned-rtdetr', 'detr', 'yolos']) {
    const session = await InferenceSession.create(join(FIXTURES, name, 'model.onnx'));
    signatureCache.set(name, readSignature(session));
    await session.release();
  }
});

describe('Hugging Face exports against transformers 5.23.0', () => {
  const config = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name, 'config.json'), 'utf8'));
  const hf = (name: string): Detector => {
    const c = config(name);
    const labels = Object.keys(c.id2label).map((k) => c.id2label[k]);
    return { detector: readHfDetector(c.architectures[0], labels, JSON.parse(readFileSync(join(FIXTURES, name, 'preprocessor_config.json'), 'utf8')), signatureOf(name), name), maxPixels: 1e8 };
  };

  it('reads the heads: DETR softmax with a no-object class, RT-DETR sigmoid with top-k', () => {
    const head = (name: string): string | undefined => {
      const { detector } = hf(name);
      return detector.family === 'hf' ? detector.head.kind : undefined;
    };
    assert.equal(head('pinned-detr'), 'softmax');
    assert.equal(head('pinned-rtdetr'), 'sigmoid');
  });

  for (const name of ['pinned-detr', 'pinned-rtdetr']) {
    it(`${name}: post_process_object_detection's detections, boxes as the pipeline's whole pixels`, async () => {
      const { run, session } = await open(name);
      for (const threshold of [0.5, 0.2]) {
        const { detections } = await detectObjects(hf(name), [await pngOf(200, 100)], { threshold }, { run, ...noMarks });
        const reference = sorted(expected[name][`threshold=${threshold}`]).map((d) => ({ ...d, box: { xmin: Math.trunc(d.box.xmin), ymin: Math.trunc(d.box.ymin), xmax: Math.trunc(d.box.xmax), ymax: Math.trunc(d.box.ymax) } }));
        assert.ok(reference.length > 1);
        assertDetections(detections[0], reference, `${name} threshold ${threshold}`, 0, 1e-6);
      }
      await session.release();
    });
  }

  it('resizes to the size get_size_with_aspect_ratio gives (shortest and longest edge)', () => {
    for (const r of expected.resize) assert.deepEqual(hfResizeTo({ resize: { shortestEdge: r.shortest, longestEdge: r.longest } }, r.width, r.height), { width: r.to[0], height: r.to[1] }, JSON.stringify(r));
  });
});

describe('Hugging Face DETR and YOLOS against transformers.js 4.3.1 ObjectDetectionPipeline', () => {
  let folder: string;
  before(() => {
    // transformers.js wants onnx/model.onnx beside config.json and preprocessor_config.json.
    folder = mkdtempSync(join(tmpdir(), 'detr-tjs-'));
    for (const name of ['detr', 'yolos']) {
      mkdirSync(join(folder, name, 'onnx'), { recursive: true });
      for (const file of ['config.json', 'preprocessor_config.json']) copyFileSync(join(FIXTURES, name, file), join(folder, name, file));
      symlinkSync(join(FIXTURES, name, 'model.onnx'), join(folder, name, 'onnx', 'model.onnx'));
    }
  });
  after(() => rmSync(folder, { recursive: true, force: true }));

  for (const name of ['detr', 'yolos']) {
    it(`${name}: answers the same detections on the same images (labels, boxes to the pixel, scores within 1e-4)`, async () => {
      const { env, pipeline } = await import('@huggingface/transformers');
      env.allowRemoteModels = false;
      env.localModelPath = folder + '/';
      const detector = await pipeline('object-detection', name, { dtype: 'fp32' });
      const { run, session } = await open(name);
      const c = JSON.parse(readFileSync(join(FIXTURES, name, 'config.json'), 'utf8'));
      const model: Detector = { detector: readHfDetector(c.architectures[0], Object.values(c.id2label) as string[], JSON.parse(readFileSync(join(FIXTURES, name, 'preprocessor_config.json'), 'utf8')), readSignature(session), name), maxPixels: 1e8 };
      // 640x480 images (one stored turned, with EXIF orientation): the processor's size (shortest 480,
      // longest 640) leaves them unresized in both implementations; see the README for where
      // transformers.js's resizing differs from transformers'.
      for (const file of ['scene.jpg', 'exif.jpg']) {
        for (const threshold of [0.5, 0.7]) {
          const reference = sorted((await detector(join(FIXTURES, 'images', file), { threshold })) as Detection[]);
          const { detections } = await detectObjects(model, [image(file)], { threshold }, { run, ...noMarks });
          assert.ok(reference.length > 1, `${file}: transformers.js finds detections to compare`);
          assertDetections(detections[0], reference, `${name} ${file} threshold ${threshold}`, 1, 1e-4);
          // Both answer whole pixels, truncated (the pipelines' int()). transformers.js's unrounded boxes
          // (percentage: true, times the size) say where truncation may go either way: a coordinate within
          // 1e-3 px of a whole pixel, where float32 and float64 arithmetic may land on either side.
          // Everywhere else the whole pixels must be equal.
          const exact = sorted((await detector(join(FIXTURES, 'images', file), { threshold, percentage: true })) as Detection[]);
          exact.forEach((e, i) => {
            for (const [k, size] of [['xmin', 640], ['ymin', 480], ['xmax', 640], ['ymax', 480]] as const) {
              const px = e.box[k] * size;
              if (Math.abs(px - Math.round(px)) > 1e-3) assert.equal(detections[0][i].box[k], Math.trunc(px), `${name} ${file} #${i} ${k}: ${px}`);
            }
          });
        }
      }
      await detector.dispose();
      await session.release();
    });
  }
});

describe('Ultralytics metadata', () => {
  it('reads names as Python writes them, quotes and escapes included', () => {
    assert.deepEqual(parsePythonLiteral(`{0: 'person', 1: "it's", 2: 'a\\'b', 3: 'caf\\xe9'}`), { 0: 'person', 1: "it's", 2: "a'b", 3: 'café' });
    assert.deepEqual(parsePythonLiteral('[640, 480]'), [640, 480]);
    assert.throws(() => parsePythonLiteral("{0: 'person'"), /not a Python literal/);
  });

  it('refuses an output it cannot read, naming the outputs it found', () => {
    const signature = { inputs: signatureOf('yolov8').inputs, outputs: [{ ...signatureOf('yolov8').outputs[0], name: 'output0', shape: [1, 9, 2100] }] };
    assert.throws(() => readUltralytics(metadataOf('yolov8'), signature, 'models/y/1'), /models\/y\/1: an Ultralytics detector with 3 classes must output \[1, 7, anchors\].*"output0" \[1, 9, 2100\]/);
  });
});

