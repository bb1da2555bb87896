// The console's form and answer for text-classification: a text box, and a second one for a text
// pair (a cross-encoder's query and document, an NLI premise and hypothesis); bars per label.
import { renderClasses } from './shared.js';

export const form = 'text';
export const sends = 'send: a text (text/plain), or JSON {"inputs": ["a text", …]} or {"inputs": {"text": …, "text_pair": …}}';
export const answers = 'answers: labels with their scores, best first';
export const render = renderClasses;

/** The optional second text of a pair (a cross-encoder's document). */
export function fields(container, model) {
  const wrapper = Object.assign(document.createElement('label'), { textContent: `Second text of a pair (text_pair${model?.task?.cross_encoder ? ', the document to score' : ', optional'}) ` });
  wrapper.append(Object.assign(document.createElement('textarea'), { name: 'text_pair', rows: 2, cols: 60 }));
  container.append(wrapper);
}

export function request(_model, context) {
  const pair = context.fields.querySelector('[name="text_pair"]')?.value ?? '';
  return pair.trim() === '' ? { type: 'text/plain', body: context.text } : { type: 'application/json', body: JSON.stringify({ inputs: { text: context.text, text_pair: pair } }) };
}
