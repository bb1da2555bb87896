/**
 * Overlapping windows over a text's tokens, as the Rust tokenizers cut an encoding that is too long
 * when asked for its overflowing tokens with a stride (tokenizers/src/tokenizer/encoding.rs,
 * `Encoding::truncate`, direction right): windows of `size` tokens starting every `size - stride`
 * tokens, the last one ending at the text's end. This is what transformers' pipelines get from
 * `return_overflowing_tokens=True, stride=…` (question_answering.py `preprocess`,
 * token_classification.py `preprocess`).
 */

/** [start, end) token ranges; one range when the text fits. `stride` must be below `size` (callers say so in their 400). */
export function tokenWindows(length: number, size: number, stride: number): [number, number][] {
  if (length <= size) return [[0, length]];
  if (!(stride < size) || size <= 0) throw new RangeError(`a stride of ${stride} needs windows longer than ${stride} tokens, got ${size}`);
  const windows: [number, number][] = [];
  for (let start = 0; ; start += size - stride) {
    const end = Math.min(start + size, length);
    windows.push([start, end]);
    if (end === length) return windows;
  }
}
