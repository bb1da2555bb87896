/** What both detector families answer, and the request's parameters they share. */

/** One detection as Hugging Face's object-detection pipeline answers it. */
export interface Detection {
  readonly score: number;
  readonly label: string;
  readonly box: { readonly xmin: number; readonly ymin: number; readonly xmax: number; readonly ymax: number };
}

/** A detection with its class index, for metrics and drift. */
export interface IndexedDetection extends Detection {
  readonly index: number;
}

/** The request's parameters once checked; undefined where the family's default applies. */
export interface DetectionParameters {
  readonly threshold?: number;
  readonly iouThreshold?: number;
  readonly maxDetections?: number;
  /** Class indices to keep. */
  readonly classes?: ReadonlySet<number>;
}

/** Best score first; equal scores keep the model's order (Array.prototype.sort is stable). */
export const byScore = <T extends { readonly score: number }>(detections: T[]): T[] => detections.sort((a, b) => b.score - a.score);
