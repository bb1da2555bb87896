// The console's form and answer for feature-extraction: a text box; the embedding's size.
export const form = 'text';
export const sends = 'send: a text (text/plain), or JSON {"inputs": ["a text", …]}';
export const answers = 'answers: an embedding per text';

export function render(value, answer) {
  const first = Array.isArray(value) ? value[0] : undefined;
  if (Array.isArray(first) && typeof first[0] === 'number') answer.textContent = `embedding of ${first.length} dimensions (${value.length} text${value.length === 1 ? '' : 's'})`;
}
