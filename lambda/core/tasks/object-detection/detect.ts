/**
 * One image through a detector: decoded upright, preprocessed as its family wants, one session run,
 * post-processed into detections in the image's own pixels.
 */
import { Tensor } from 'onnxruntime-node';
import { decodeImage, resizeRgb } from '../images.ts';
import type { TaskContext } from '../task.ts';
import type { DetectionParameters, IndexedDetection } from './detections.ts';
import { hfDetections, hfInput, hfResizeTo, type HfDetector } from './hf-detr.ts';
import { ultralyticsDetections, ultralyticsInput, type UltralyticsDetector } from './ultralytics.ts';

export interface Detector {
  readonly detector: HfDetector | UltralyticsDetector;
  /** image.maxPixels: larger images are refused before they are decoded. */
  readonly maxPixels: number;
}

/** The model's input for one decoded image, and how to read its outputs back. */
async function preprocess(loaded: Detector, image: { data: Uint8Array; width: number; height: number }): Promise<Record<string, Tensor>> {
  const d = loaded.detector;
  if (d.family === 'ultralytics') {
    const { pixels, dims } = ultralyticsInput(d, image.data, image.width, image.height);
    return { [d.input]: new Tensor('float32', pixels, dims) };
  }
  const size = hfResizeTo(d, image.width, image.height);
  const resized = await resizeRgb(image.data, image.width, image.height, size.width, size.height, d.kernel);
  const { pixels, dims, mask } = hfInput(d, resized, size.width, size.height);
  return { [d.pixelValues]: new Tensor('float32', pixels, dims), ...(mask !== undefined && d.pixelMask !== undefined ? { [d.pixelMask]: new Tensor('int64', mask, [1, dims[2], dims[3]]) } : {}) };
}

function postprocess(loaded: Detector, outputs: Record<string, Tensor>, width: number, height: number, parameters: DetectionParameters): IndexedDetection[] {
  const d = loaded.detector;
  const view = (name: string): { data: Float32Array; dims: readonly number[] } => ({ data: outputs[name].data as Float32Array, dims: outputs[name].dims });
  return d.family === 'ultralytics' ? ultralyticsDetections(d, view(d.output), 0, width, height, parameters) : hfDetections(d, view(d.logits), view(d.boxes), 0, width, height, parameters);
}

/** Detects objects in encoded images, one session run per image (each keeps its own size and letterbox). */
export async function detectObjects(loaded: Detector, items: readonly Uint8Array[], parameters: DetectionParameters, context: Pick<TaskContext, 'run' | 'mark'>, single = items.length === 1): Promise<{ detections: IndexedDetection[][]; sizes: { width: number; height: number }[] }> {
  const d = loaded.detector;
  const names = d.family === 'ultralytics' ? [d.output] : [d.logits, d.boxes];
  const prepared = await Promise.all(
    items.map(async (bytes, i) => {
      const image = await decodeImage(bytes, loaded.maxPixels, single ? 'the image' : `image ${i}`);
      return { width: image.width, height: image.height, feeds: await preprocess(loaded, image) };
    }),
  );
  context.mark('parsed');
  const detections: IndexedDetection[][] = [];
  for (const image of prepared) detections.push(postprocess(loaded, await context.run(image.feeds, names), image.width, image.height, parameters));
  context.mark('ran');
  return { detections, sizes: prepared.map(({ width, height }) => ({ width, height })) };
}

