/**
 * Images into a model's input tensor with sharp (libvips): decode JPEG, PNG or WebP, apply the EXIF
 * orientation, drop alpha, resize and crop as a Hugging Face image processor's
 * preprocessor_config.json says (or ModelShip's `image` settings), rescale and normalize per channel,
 * channels first or last. The arithmetic after the resize is a few lines over the raw pixels: sharp
 * gives 8-bit RGB, and the model wants float32 in its own layout.
 */
import { createHash } from 'node:crypto';
import { Tensor } from 'onnxruntime-node';
import type { Sharp, SharpOptions } from 'sharp';
import type { ModelConfig } from '../config.ts';
import { badRequest, describeError } from '../errors.ts';

/** How a model wants its images. */
export interface ImageSpec {
  /** Resize to exactly this (`fill`), or the shortest edge to `shortestEdge` then center-crop `crop`. */
  readonly resize: { readonly width: number; readonly height: number } | { readonly shortestEdge: number; readonly crop?: { readonly width: number; readonly height: number } };
  readonly kernel: 'nearest' | 'linear' | 'cubic' | 'lanczos3';
  readonly rescale: number;
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
  readonly layout: 'nchw' | 'nhwc';
  readonly maxPixels: number;
}

/** The output size an image spec gives. */
export function outputSize(spec: ImageSpec): { width: number; height: number } {
  if ('width' in spec.resize) return spec.resize;
  return spec.resize.crop ?? { width: spec.resize.shortestEdge, height: spec.resize.shortestEdge };
}

/** PIL's resample codes, as preprocessor_config.json writes them, to sharp's kernels. */
const KERNELS: Record<number, ImageSpec['kernel']> = { 0: 'nearest', 1: 'lanczos3', 2: 'linear', 3: 'cubic', 4: 'linear', 5: 'cubic' };

const triple = (value: unknown, fallback: number): [number, number, number] => {
  if (typeof value === 'number') return [value, value, value];
  if (Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === 'number')) return value as [number, number, number];
  return [fallback, fallback, fallback];
};

/**
 * The spec from a preprocessor_config.json (any of the usual image processors: size as
 * {height, width}, {shortest_edge} with crop_size, or a number) and ModelShip's `image` settings,
 * which win. `inputShape` (from the model) fills in the size when neither gives it.
 */
export function imageSpec(preprocessor: Record<string, unknown> | undefined, config: ModelConfig, inputShape: readonly number[], file: string): ImageSpec {
  const p = preprocessor ?? {};
  const own = config.image;
  const layout = own?.layout ?? (inputShape.length === 4 && inputShape[3] === 3 && inputShape[1] !== 3 ? 'nhwc' : 'nchw');
  let resize: ImageSpec['resize'] | undefined;
  const size = p.size as Record<string, number> | number | undefined;
  const crop = p.crop_size as Record<string, number> | number | undefined;
  const cropSize = typeof crop === 'number' ? { width: crop, height: crop } : crop?.height !== undefined && crop.width !== undefined ? { width: crop.width, height: crop.height } : undefined;
  if (typeof size === 'number') resize = { width: size, height: size };
  else if (size?.height !== undefined && size.width !== undefined) resize = { width: size.width, height: size.height };
  else if (size?.shortest_edge !== undefined) resize = { shortestEdge: size.shortest_edge, crop: p.do_center_crop === false ? undefined : cropSize };
  if (own?.width !== undefined || own?.height !== undefined) resize = { width: own.width ?? own.height!, height: own.height ?? own.width! };
  if (resize === undefined) {
    const [h, w] = layout === 'nchw' ? [inputShape[2], inputShape[3]] : [inputShape[1], inputShape[2]];
    if (!(h > 0 && w > 0)) throw new Error(`${file}: the image size is not known: set "size" in preprocessor_config.json or "image": {"width", "height"} in config.json (the model's input is ${JSON.stringify(inputShape)})`);
    resize = { width: w, height: h };
  }
  const normalize = p.do_normalize !== false;
  return {
    resize,
    kernel: KERNELS[Number(p.resample ?? 2)] ?? 'linear',
    rescale: p.do_rescale === false ? 1 : typeof p.rescale_factor === 'number' ? p.rescale_factor : 1 / 255,
    mean: own?.mean !== undefined ? (own.mean as [number, number, number]) : normalize ? triple(p.image_mean, 0.5) : [0, 0, 0],
    std: own?.std !== undefined ? (own.std as [number, number, number]) : normalize ? triple(p.image_std, 0.5) : [1, 1, 1],
    layout,
    maxPixels: own?.maxPixels ?? 40_000_000,
  };
}

/** Width and height once the EXIF orientation is applied (orientations 5 to 8 swap them). */
const orientedSize = (meta: { width?: number; height?: number; orientation?: number }): [number, number] =>
  (meta.orientation ?? 1) >= 5 ? [meta.height ?? 0, meta.width ?? 0] : [meta.width ?? 0, meta.height ?? 0];

type SharpFactory = (input?: Uint8Array, options?: SharpOptions) => Sharp;
let sharpModule: Promise<SharpFactory> | undefined;
/** sharp, imported on the first image: tabular deployments never load libvips. */
const loadSharp = (): Promise<SharpFactory> => (sharpModule ??= import('sharp').then((m) => m.default as unknown as SharpFactory));

const FORMATS = new Set(['jpeg', 'png', 'webp']);

/** One encoded image as float32 pixels in the spec's layout and size; 400 naming what is wrong with it. */
type ImageHeader = { format?: string; width?: number; height?: number; orientation?: number };

/** The header alone, before anything is decoded: the format, and the pixel count against the limit; 400 naming what is wrong. */
async function checkedHeader(sharp: SharpFactory, bytes: Uint8Array, maxPixels: number, what: string): Promise<ImageHeader> {
  let meta: ImageHeader;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw badRequest(`${what} is not a supported image (JPEG, PNG or WebP): ${describeError(error)}`, 'invalid_image');
  }
  if (meta.format === undefined || !FORMATS.has(meta.format)) throw badRequest(`${what} is ${meta.format ?? 'of an unknown format'}; send JPEG, PNG or WebP`, 'invalid_image');
  const pixels = (meta.width ?? 0) * (meta.height ?? 0);
  if (pixels > maxPixels) throw badRequest(`${what} is ${meta.width}x${meta.height} (${pixels} pixels), over the limit of ${maxPixels} (image.maxPixels in config.json)`, 'image_too_large');
  return meta;
}

/** An image as 8-bit packed RGB at its own size, upright (EXIF orientation applied): what detectors start from. */
export async function decodeImage(bytes: Uint8Array, maxPixels: number, what = 'the image'): Promise<{ data: Uint8Array; width: number; height: number }> {
  const sharp = await loadSharp();
  await checkedHeader(sharp, bytes, maxPixels, what);
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' }).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data, width: info.width, height: info.height };
  } catch (error) {
    throw badRequest(`${what} cannot be decoded: ${describeError(error)}`, 'invalid_image');
  }
}

/** Packed RGB resized with sharp (fill, the given kernel), as the image processors resize. */
export async function resizeRgb(rgb: Uint8Array, width: number, height: number, toWidth: number, toHeight: number, kernel: ImageSpec['kernel']): Promise<Uint8Array> {
  if (width === toWidth && height === toHeight) return rgb;
  const sharp = await loadSharp();
  return sharp(rgb, { raw: { width, height, channels: 3 } }).resize(toWidth, toHeight, { fit: 'fill', kernel }).raw().toBuffer();
}

/** Whether the bytes start as a JPEG, PNG or WebP file does (their signatures): the formats taken, known before sharp reads anything. */
const hasTakenSignature = (b: Uint8Array): boolean =>
  (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) ||
  (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) ||
  (b.length >= 12 && Buffer.from(b.buffer, b.byteOffset, 4).toString('latin1') === 'RIFF' && Buffer.from(b.buffer, b.byteOffset + 8, 4).toString('latin1') === 'WEBP');

export async function imageToPixels(bytes: Uint8Array, spec: ImageSpec, what = 'the image'): Promise<Float32Array> {
  const sharp = await loadSharp();
  // A resize to a fixed size needs no header first when the signature is a taken format: sharp's
  // limitInputPixels refuses an oversized image from its header before decoding, and a failure is
  // then explained by the header check (the same 400s). Saves a header parse per image.
  const fast = 'width' in spec.resize && hasTakenSignature(bytes);
  const meta = fast ? {} : await checkedHeader(sharp, bytes, spec.maxPixels, what);
  const { width, height } = outputSize(spec);
  let raw: Buffer;
  try {
    let pipeline = sharp(bytes, { limitInputPixels: spec.maxPixels, failOn: 'error' }).rotate().removeAlpha().toColourspace('srgb');
    if ('width' in spec.resize) pipeline = pipeline.resize(width, height, { fit: 'fill', kernel: spec.kernel });
    else {
      // As transformers: get_resize_output_image_size (default_to_square=False) truncates the long
      // side, int(edge * long / short); center_crop floors the offsets, top = (height - crop) // 2
      // (src/transformers/image_transforms.py). Rounding either shifts the picture by a pixel when the
      // leftover is odd.
      const edge = spec.resize.shortestEdge;
      const [inW, inH] = orientedSize(meta);
      const [resizedW, resizedH] = inW <= inH ? [edge, Math.trunc((edge * inH) / inW)] : [Math.trunc((edge * inW) / inH), edge];
      pipeline = pipeline.resize(resizedW, resizedH, { fit: 'fill', kernel: spec.kernel });
      const resized = await pipeline.raw().toBuffer({ resolveWithObject: true });
      const left = Math.max(0, Math.floor((resized.info.width - width) / 2));
      const top = Math.max(0, Math.floor((resized.info.height - height) / 2));
      pipeline = sharp(resized.data, { raw: { width: resized.info.width, height: resized.info.height, channels: resized.info.channels as 3 } }).extract({ left, top, width: Math.min(width, resized.info.width), height: Math.min(height, resized.info.height) }).resize(width, height, { fit: 'fill', kernel: spec.kernel });
    }
    const out = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (out.info.channels !== 3 || out.info.width !== width || out.info.height !== height) throw new Error(`decoded to ${out.info.width}x${out.info.height}x${out.info.channels}`);
    raw = out.data;
  } catch (error) {
    if (fast) await checkedHeader(sharp, bytes, spec.maxPixels, what);
    throw badRequest(`${what} cannot be decoded: ${describeError(error)}`, 'invalid_image');
  }
  const plane = width * height;
  const out = new Float32Array(plane * 3);
  const { rescale, mean, std } = spec;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const value = (raw[i * 3 + c] * rescale - mean[c]) / std[c];
      out[spec.layout === 'nchw' ? c * plane + i : i * 3 + c] = value;
    }
  }
  return out;
}

/** Images decoded and preprocessed into one [n, 3, h, w] (or [n, h, w, 3]) tensor; 400 naming the image at fault. */
export async function imageTensor(spec: ImageSpec, items: readonly Uint8Array[], single: boolean): Promise<Tensor> {
  const { width, height } = outputSize(spec);
  const one = width * height * 3;
  const decoded = await Promise.all(items.map((bytes, i) => imageToPixels(bytes, spec, single ? 'the body' : `input ${i}`)));
  // One image is its own tensor: no second copy (large ArrayBuffers are what brings on V8's full collections here).
  const pixels = decoded.length === 1 ? decoded[0] : new Float32Array(one * items.length);
  if (decoded.length > 1) decoded.forEach((p, i) => pixels.set(p, i * one));
  return new Tensor('float32', pixels, spec.layout === 'nchw' ? [items.length, 3, height, width] : [items.length, height, width, 3]);
}

/**
 * What data capture keeps of images: each one's sha256 and size (the bytes stay out of logs and the
 * store), and with capture.images "tensor" the decoded input the model saw, its FP32 bytes
 * (little-endian) in base64: exact, and a third the size of JSON numbers.
 */
export function capturedImages(items: readonly Uint8Array[], config: ModelConfig, pixels?: { readonly name: string; readonly tensor: Tensor }): Record<string, unknown> {
  const images = items.map((bytes) => ({ sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length }));
  if (config.capture?.images !== 'tensor' || pixels === undefined) return { images };
  const data = pixels.tensor.data as Float32Array;
  return { images, tensor: { name: pixels.name, datatype: 'FP32', shape: pixels.tensor.dims, b64: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64') } };
}
