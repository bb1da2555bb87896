/**
 * The vision tasks' fixtures (scripts/samples/vision-fixtures.ts) loaded straight into their task
 * modules with real onnxruntime sessions, and transformers.js 4.3.1 pointed at the same folders (it
 * wants onnx/<file>.onnx: links), for equality checks. Test images: real pictures from
 * test/fixtures/images, cut to the model's input size by sharp (transformers.js resizes with sharp's
 * affine transform, which does not antialias as Pillow and our preprocessing do, so images are sent
 * at the size the model takes; resizing is checked against Pillow in tasks.test.ts).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession, type Tensor } from 'onnxruntime-node';
import sharp from 'sharp';
import { parseModelConfig } from '../../../../lambda/core/config.ts';
import { readSignature } from '../../../../lambda/core/signature.ts';
import { taskFolder } from '../../../../lambda/core/tasks/hf-folder.ts';
import type { TaskContext, TaskFolder, TaskModule } from '../../../../lambda/core/tasks/task.ts';
import { writeVisionFixture, type VisionFixture } from '../../../../scripts/samples/vision-fixtures.ts';

export interface LoadedFixture<L> {
  readonly dir: string;
  readonly folder: TaskFolder;
  readonly loaded: L;
  /** A context running model.onnx, counting runs. */
  readonly context: TaskContext & { runs: number };
  close(): void;
}

/** A fixture copied to a temporary version folder, its task loaded by `module`. */
export async function loadFixture<L>(module: TaskModule<L>, name: VisionFixture, config: Record<string, unknown> = {}): Promise<LoadedFixture<L>> {
  return loadFolder(module, writeVisionFixture(name, mkdtempSync(join(tmpdir(), `vision-${name}-`))), name, config);
}

/** A version folder on disk (a fixture changed by the test), its task loaded by `module`. */
export async function loadFolder<L>(module: TaskModule<L>, dir: string, name: string, config: Record<string, unknown> = {}): Promise<LoadedFixture<L>> {
  const options: InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 };
  const bytes = readFileSync(join(dir, 'model.onnx'));
  const session = await InferenceSession.create(bytes, options);
  const files = new Map<string, Uint8Array>();
  for (const file of module.sideFiles) {
    try {
      files.set(file, readFileSync(join(dir, file)));
    } catch {
      // absent
    }
  }
  const folder = taskFolder({ where: `test/${name}/1`, config: parseModelConfig(JSON.stringify(config), 'config.json'), files, signature: readSignature(session), onnx: bytes, createSession: (b) => InferenceSession.create(b, options) });
  const loaded = await module.load(folder);
  const context = {
    runs: 0,
    model: { name, version: 1 },
    async run(feeds: Record<string, Tensor>, outputs?: readonly string[]) {
      context.runs++;
      return outputs === undefined ? session.run(feeds) : session.run(feeds, [...outputs]);
    },
    mark() {},
  };
  return { dir, folder, loaded, context, close: () => rmSync(dir, { recursive: true, force: true }) };
}

/** transformers.js's view of a fixture folder: onnx/<name>.onnx links to its files. */
export function transformersFolder(dir: string, files: Record<string, string> = { 'model.onnx': 'model.onnx' }): string {
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  for (const [as, file] of Object.entries(files)) symlinkSync(join(dir, file), join(dir, 'onnx', as));
  return dir;
}

/** transformers.js, offline, reading local folders only. */
export async function transformersJs() {
  const t = await import('@huggingface/transformers');
  t.env.allowRemoteModels = false;
  t.env.allowLocalModels = true;
  t.env.localModelPath = '/';
  return t;
}

const IMAGES = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'images');

/** Real pictures cut to width×height (cover, centred) and encoded as PNG: what both implementations are sent. */
export async function testImages(width: number, height: number): Promise<Buffer[]> {
  const sources = ['crop-shapes.png', 'crop-noise.png', 'line-0.jpg', 'exif-rotated.jpg'];
  return Promise.all(sources.map((file) => sharp(readFileSync(join(IMAGES, file))).rotate().resize(width, height, { fit: 'cover' }).png().toBuffer()));
}

/** The largest absolute difference between two vectors of the same length; Infinity when the lengths differ. */
export function maxGap(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let gap = 0;
  for (let i = 0; i < a.length; i++) gap = Math.max(gap, Math.abs(a[i] - b[i]));
  return gap;
}
