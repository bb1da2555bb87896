// The console's form and answer for image-feature-extraction: a file input; the embedding's size and norm.
export const form = 'image';
export const sends = 'send: an image (JPEG, PNG or WebP, as the body), or JSON {"inputs": "<base64>", "parameters": {"pooling": "cls" | "mean" | "pooler", "normalize": true}}';
export const answers = 'answers: an embedding per image, [[…]]';

export function render(value, answer) {
  // One image answers [[…]]; a batch, one [[…]] per image.
  const vector = Array.isArray(value?.[0]?.[0]) ? value[0][0] : value?.[0];
  if (!Array.isArray(vector) || typeof vector[0] !== 'number') return;
  const norm = Math.hypot(...vector);
  answer.textContent = `embedding of ${vector.length} dimensions, norm ${norm.toFixed(4)}: [${vector.slice(0, 4).map((v) => v.toFixed(4)).join(', ')}, …]`;
}
