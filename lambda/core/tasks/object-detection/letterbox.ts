/**
 * Ultralytics' letterbox: the image scaled to fit the model's square (or rectangular) input, aspect
 * kept, centred on grey 114, as ultralytics/data/augment.py `LetterBox` (auto=False, the exported
 * predictor's setting) does it, rounding included, and resized as OpenCV's `cv2.resize(...,
 * INTER_LINEAR)` resizes 8-bit images, which is what YOLO models were trained and validated on.
 *
 * The resize is written here rather than done by sharp: libvips filters when it shrinks
 * (anti-aliasing) while OpenCV's INTER_LINEAR samples two pixels per axis with 11-bit fixed-point
 * weights, and a detector's scores move with those grey levels. Following OpenCV's arithmetic
 * (modules/imgproc/src/resize.cpp: `resize`, `HResizeLinear`, `VResizeLinearVec_32s8u`,
 * `resizeAreaFast_`) gives the same pixels Ultralytics feeds the model.
 */

/** Python's round(): halves to even (LetterBox rounds sizes with it). */
export function pythonRound(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** Where the image lands in the model's input. */
export interface Letterbox {
  /** The model's input size. */
  readonly targetWidth: number;
  readonly targetHeight: number;
  /** The image once scaled (LetterBox's new_unpad). */
  readonly width: number;
  readonly height: number;
  /** Grey rows above and columns left of it. */
  readonly top: number;
  readonly left: number;
}

/** LetterBox.get_params with auto=False, scale_fill=False, scaleup=True, center=True. */
export function letterboxGeometry(sourceWidth: number, sourceHeight: number, targetWidth: number, targetHeight: number): Letterbox {
  const r = Math.min(targetHeight / sourceHeight, targetWidth / sourceWidth);
  const width = Math.max(pythonRound(sourceWidth * r), 1);
  const height = Math.max(pythonRound(sourceHeight * r), 1);
  const dw = (targetWidth - width) / 2;
  const dh = (targetHeight - height) / 2;
  return { targetWidth, targetHeight, width, height, top: pythonRound(dh - 0.1), left: pythonRound(dw - 0.1) };
}

const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS;

/** OpenCV's saturate_cast<short>(float): round half to even, as cvRound on x86. */
const roundEven = (value: number): number => {
  const r = Math.round(value);
  return Math.abs(value % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

/** The source index and the two fixed-point weights of each output position along one axis (resize.cpp, the INTER_LINEAR table). */
function linearTable(source: number, target: number): { index: Int32Array; weight0: Int32Array; weight1: Int32Array } {
  const scale = source / target;
  const index = new Int32Array(target);
  const weight0 = new Int32Array(target);
  const weight1 = new Int32Array(target);
  for (let d = 0; d < target; d++) {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (s < 0) {
      f = 0;
      s = 0;
    }
    if (s >= source - 1) {
      f = 0;
      s = source - 1;
    }
    index[d] = s;
    weight0[d] = roundEven(Math.fround(1 - f) * COEF_SCALE);
    weight1[d] = COEF_SCALE - weight0[d];
  }
  return { index, weight0, weight1 };
}

/** cv2.resize(src, (width, height), interpolation=INTER_LINEAR) of packed 8-bit RGB. */
export function resizeLinear(src: Uint8Array, sourceWidth: number, sourceHeight: number, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  // cv::resize turns INTER_LINEAR into INTER_AREA for an exact halving, which averages 2x2 blocks.
  if (sourceWidth === width * 2 && sourceHeight === height * 2) {
    const stride = sourceWidth * 3;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < 3; c++) {
          const s = y * 2 * stride + x * 6 + c;
          out[(y * width + x) * 3 + c] = (src[s] + src[s + 3] + src[s + stride] + src[s + stride + 3] + 2) >> 2;
        }
      }
    }
    return out;
  }
  const xs = linearTable(sourceWidth, width);
  const ys = linearTable(sourceHeight, height);
  const rowWidth = width * 3;
  // Each source row resized horizontally once (HResizeLinear), kept while two output rows need it.
  const horizontal = (row: number): Int32Array => {
    const line = new Int32Array(rowWidth);
    const base = row * sourceWidth * 3;
    for (let x = 0; x < width; x++) {
      const s0 = base + xs.index[x] * 3;
      const s1 = xs.index[x] + 1 < sourceWidth ? s0 + 3 : s0;
      for (let c = 0; c < 3; c++) line[x * 3 + c] = src[s0 + c] * xs.weight0[x] + src[s1 + c] * xs.weight1[x];
    }
    return line;
  };
  const cache = new Map<number, Int32Array>();
  const rowOf = (row: number): Int32Array => {
    let line = cache.get(row);
    if (line === undefined) {
      line = horizontal(row);
      cache.set(row, line);
      for (const key of cache.keys()) if (key < row - 1) cache.delete(key);
    }
    return line;
  };
  for (let y = 0; y < height; y++) {
    const top = rowOf(ys.index[y]);
    const bottom = rowOf(Math.min(ys.index[y] + 1, sourceHeight - 1));
    const b0 = ys.weight0[y];
    const b1 = ys.weight1[y];
    const base = y * rowWidth;
    for (let i = 0; i < rowWidth; i++) {
      // VResizeLinearVec_32s8u: 16-bit multiply-high of the rows shifted by 4, then (sum + 2) >> 2.
      const value = (((top[i] >> 4) * b0) >> 16) + (((bottom[i] >> 4) * b1) >> 16) + 2;
      out[base + i] = Math.min(255, Math.max(0, value >> 2));
    }
  }
  return out;
}

/** The letterboxed image as the model's float32 input, [3, h, w] RGB in [0, 1] (the predictor's /255). */
export function letterboxTensor(rgb: Uint8Array, sourceWidth: number, sourceHeight: number, box: Letterbox): Float32Array {
  const resized = box.width === sourceWidth && box.height === sourceHeight ? rgb : resizeLinear(rgb, sourceWidth, sourceHeight, box.width, box.height);
  const plane = box.targetWidth * box.targetHeight;
  const out = new Float32Array(plane * 3).fill(114 / 255);
  for (let y = 0; y < box.height; y++) {
    const dst = (y + box.top) * box.targetWidth + box.left;
    const src = y * box.width * 3;
    for (let x = 0; x < box.width; x++) {
      const s = src + x * 3;
      out[dst + x] = resized[s] / 255;
      out[plane + dst + x] = resized[s + 1] / 255;
      out[2 * plane + dst + x] = resized[s + 2] / 255;
    }
  }
  return out;
}

/**
 * Boxes (x1, y1, x2, y2 in the model input's pixels) back to the original image: ultralytics/utils/ops.py
 * `scale_boxes` (gain and padding recomputed from the sizes as it does) and `clip_boxes`.
 */
export function unletterbox(box: readonly [number, number, number, number], sourceWidth: number, sourceHeight: number, targetWidth: number, targetHeight: number): [number, number, number, number] {
  const gain = Math.min(targetHeight / sourceHeight, targetWidth / sourceWidth);
  const newHeight = Math.max(pythonRound(sourceHeight * gain), 1);
  const newWidth = Math.max(pythonRound(sourceWidth * gain), 1);
  const gainY = newHeight / sourceHeight;
  const gainX = newWidth / sourceWidth;
  const padX = pythonRound((targetWidth - newWidth) / 2 - 0.1);
  const padY = pythonRound((targetHeight - newHeight) / 2 - 0.1);
  const clip = (v: number, max: number): number => Math.min(Math.max(v, 0), max);
  return [clip((box[0] - padX) / gainX, sourceWidth), clip((box[1] - padY) / gainY, sourceHeight), clip((box[2] - padX) / gainX, sourceWidth), clip((box[3] - padY) / gainY, sourceHeight)];
}
