/**
 * Bench part (n)'s baselines: object detection's own work (decode upright, letterbox, session.run,
 * decode + NMS; JPEG in, JSON out) on one Ultralytics model file, with nothing around it (no
 * pipeline, registry, capture, metrics or batcher). In process it is the bench's "in process"
 * figure; run as a script it is a bare node:http server doing that work, for ModelShip's local
 * server to be compared with over the same transport.
 *   node scripts/bench/object-detection.ts MODEL_ONNX PORT
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { InferenceSession, type Tensor } from 'onnxruntime-node';
import { defaultSessionOptions } from '../../lambda/core/sessions.ts';
import { readSignature } from '../../lambda/core/signature.ts';
import { detectObjects } from '../../lambda/core/tasks/object-detection/detect.ts';
import { readUltralytics, type UltralyticsDetector } from '../../lambda/core/tasks/object-detection/ultralytics.ts';
import { onnxMetadataProps } from '../../lambda/core/tasks/onnx-metadata.ts';

/** The task's steps on a model file (a session made with the server's options): JPEG bytes in, the answer's JSON out. */
export async function objectDetector(modelFile: string): Promise<{ detector: UltralyticsDetector; detect: (image: Uint8Array) => Promise<string>; release: () => Promise<void> }> {
  const session = await InferenceSession.create(modelFile, defaultSessionOptions());
  const detector = { detector: readUltralytics(onnxMetadataProps(readFileSync(modelFile), 'bench'), readSignature(session), 'bench'), maxPixels: 40_000_000 };
  const context = { run: (feeds: Record<string, Tensor>, outputs?: readonly string[]) => session.run(feeds, outputs as string[]) as Promise<Record<string, Tensor>>, mark: () => undefined };
  return {
    detector: detector.detector,
    detect: async (image) => JSON.stringify((await detectObjects(detector, [image], {}, context)).detections[0].map(({ score, label, box }) => ({ score, label, box }))),
    release: () => session.release(),
  };
}

if (import.meta.main) {
  const [modelFile, port] = process.argv.slice(2);
  const { detect } = await objectDetector(modelFile);
  createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      detect(Buffer.concat(chunks)).then(
        (json) => response.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json) }).end(json),
        (error: Error) => response.writeHead(400).end(error.message),
      );
    });
  }).listen(Number(port), '127.0.0.1', () => console.log(`ready on ${port}`));
  process.once('SIGINT', () => process.exit(0));
}
