/**
 * A/B assignment: which version a plain-route request goes to when the config splits traffic with
 * abTest.weights — at random, or stably per X-Assignment-Key (the same key always gets the same version).
 */
import type { ModelEntry } from './catalog.ts';

/** The version (as text) drawn for a request, or undefined when the model runs no A/B test. */
export function assignVersion(entry: ModelEntry, assignmentKey?: string, random: () => number = Math.random): string | undefined {
  const weights = entry.config.abTest?.weights;
  if (weights === undefined || entry.problem !== undefined) return undefined;
  const pairs = Object.entries(weights).sort(([a], [b]) => Number(a) - Number(b));
  const total = pairs.reduce((sum, [, w]) => sum + w, 0);
  let point = (assignmentKey === undefined ? random() : unitHash(`${entry.name}:${assignmentKey}`)) * total;
  for (const [version, weight] of pairs) {
    point -= weight;
    if (point < 0) return version;
  }
  return pairs[pairs.length - 1][0];
}

/** A stable number in [0, 1) from a string (FNV-1a), for sticky assignment. */
export function unitHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash / 0x100000000;
}
