/**
 * Greedy non-maximum suppression, class by class, as torchvision.ops.nms runs it inside
 * ultralytics/utils/nms.py `non_max_suppression` (boxes offset by class so classes never
 * overlap): candidates by descending score (a stable sort, ties in input order), each kept box
 * suppressing the later boxes of its class whose IoU with it is over the threshold. IoU is computed
 * in float32, as torch does, so a pair right at the threshold goes the same way.
 */

/** Boxes as x1, y1, x2, y2, four numbers each. */
export interface Candidates {
  readonly boxes: Float32Array;
  readonly scores: Float32Array;
  readonly classes: Int32Array;
  readonly count: number;
}

const f = Math.fround;

/** IoU of boxes i and j in float32 arithmetic, as torchvision's CPU kernel. */
export function iou(boxes: ArrayLike<number>, i: number, j: number): number {
  const a = i * 4;
  const b = j * 4;
  const areaA = f(f(boxes[a + 2] - boxes[a]) * f(boxes[a + 3] - boxes[a + 1]));
  const areaB = f(f(boxes[b + 2] - boxes[b]) * f(boxes[b + 3] - boxes[b + 1]));
  const w = Math.max(0, f(Math.min(boxes[a + 2], boxes[b + 2]) - Math.max(boxes[a], boxes[b])));
  const h = Math.max(0, f(Math.min(boxes[a + 3], boxes[b + 3]) - Math.max(boxes[a + 1], boxes[b + 1])));
  const inter = f(w * h);
  return f(inter / f(f(areaA + areaB) - inter));
}

/**
 * The indices kept, best score first, at most `maxDetections`. `agnostic` suppresses across classes
 * (Ultralytics' agnostic_nms). `maxCandidates` keeps only that many best-scored boxes before NMS
 * (Ultralytics' max_nms, 30000).
 */
export function nonMaxSuppression(candidates: Candidates, iouThreshold: number, maxDetections: number, { agnostic = false, maxCandidates = 30_000 } = {}): number[] {
  const { boxes, scores, classes, count } = candidates;
  // Indices by descending score, ties in input order (as a stable sort).
  let order = Array.from({ length: count }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  if (order.length > maxCandidates) order = order.slice(0, maxCandidates);
  // Per class, the candidates still standing, in score order: a kept box only looks at its own class.
  const byClass = new Map<number, number[]>();
  for (const i of order) {
    const key = agnostic ? 0 : classes[i];
    let list = byClass.get(key);
    if (list === undefined) byClass.set(key, (list = []));
    list.push(i);
  }
  const suppressed = new Uint8Array(count);
  const kept: number[] = [];
  // Areas once, in float32 (as torchvision's `areas`); IoU inline, float32 at each step.
  const areas = new Float32Array(count);
  for (let i = 0; i < count; i++) areas[i] = f(f(boxes[i * 4 + 2] - boxes[i * 4]) * f(boxes[i * 4 + 3] - boxes[i * 4 + 1]));
  for (const list of byClass.values()) {
    for (let a = 0; a < list.length; a++) {
      const i = list[a];
      if (suppressed[i] === 1) continue;
      kept.push(i);
      const x1 = boxes[i * 4];
      const y1 = boxes[i * 4 + 1];
      const x2 = boxes[i * 4 + 2];
      const y2 = boxes[i * 4 + 3];
      for (let b = a + 1; b < list.length; b++) {
        const j = list[b];
        if (suppressed[j] === 1) continue;
        const w = f(Math.min(x2, boxes[j * 4 + 2]) - Math.max(x1, boxes[j * 4]));
        if (w <= 0) continue;
        const h = f(Math.min(y2, boxes[j * 4 + 3]) - Math.max(y1, boxes[j * 4 + 1]));
        if (h <= 0) continue;
        const inter = f(w * h);
        if (f(inter / f(f(areas[i] + areas[j]) - inter)) > iouThreshold) suppressed[j] = 1;
      }
    }
  }
  // torchvision answers the kept boxes by descending score: sort them back into the global order.
  const rank = new Int32Array(count);
  order.forEach((i, r) => (rank[i] = r));
  return kept.sort((a, b) => rank[a] - rank[b]).slice(0, maxDetections);
}
