/**
 * Where captures live in the model store (and under the local data folder), in one place for the
 * runtime, the drift job and the CDK app. No imports: the CDK app reads it at synth.
 */

/** The root of all captures. */
export const CAPTURE_ROOT = 'captures/';

/** The key prefix of one model's captures: captures/<model>/. */
export const captureModelPrefix = (model: string): string => `${CAPTURE_ROOT}${model}/`;

/** The key prefix of a model version's captures on a given day: captures/<model>/<version>/<yyyy-mm-dd>/. */
export function capturePrefix(model: string, version: number | string, date: Date | string): string {
  const day = typeof date === 'string' ? date : date.toISOString().slice(0, 10);
  return `${captureModelPrefix(model)}${version}/${day}/`;
}
