// The console's form and answer for sentence-similarity: a source sentence and sentences, one per
// line; a bar per sentence, most similar first.
import { labelBars } from './shared.js';

export const form = 'json';
export const sends = 'send: JSON {"inputs": {"source_sentence": "a text", "sentences": ["a text", …]}}';
export const answers = 'answers: the cosine similarity of the source sentence with each sentence';

export function fields(container, model) {
  const example = model.example?.inputs ?? { source_sentence: '', sentences: [] };
  const source = Object.assign(document.createElement('input'), { id: 'source-sentence', value: example.source_sentence, size: 60 });
  const sentences = Object.assign(document.createElement('textarea'), { id: 'sentences', value: example.sentences.join('\n') });
  container.append(
    Object.assign(document.createElement('label'), { htmlFor: 'source-sentence', textContent: 'Source sentence' }), source,
    Object.assign(document.createElement('label'), { htmlFor: 'sentences', textContent: 'Sentences (one per line)' }), sentences,
  );
}

export function request(model, { fields: container }) {
  const source = container.querySelector('#source-sentence').value;
  const sentences = container.querySelector('#sentences').value.split('\n').filter((line) => line.trim() !== '');
  return { type: 'application/json', body: JSON.stringify({ inputs: { source_sentence: source, sentences } }) };
}

export function render(value, answer, { fields: container }) {
  if (!Array.isArray(value)) return;
  const sentences = container.querySelector('#sentences').value.split('\n').filter((line) => line.trim() !== '');
  labelBars(value.map((score, i) => ({ label: sentences[i] ?? String(i), score })).sort((a, b) => b.score - a.score), answer);
}
