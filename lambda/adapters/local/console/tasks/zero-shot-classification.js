// The console's form and answer for zero-shot-classification: a text box, the candidate labels
// (comma-separated), multi-label and the hypothesis template; one bar per label, best first.
import { labelBars } from './shared.js';

export const form = 'text';
export const sends = 'send: JSON {"inputs": "a text", "parameters": {"candidate_labels": ["a", "b"], "multi_label": false, "hypothesis_template": "This example is {}."}}';
export const answers = 'answers: {sequence, labels, scores}, the labels best first';

const input = (name, label, attributes) => {
  const wrapper = Object.assign(document.createElement('label'), { textContent: `${label} ` });
  wrapper.append(Object.assign(document.createElement('input'), { name, ...attributes }));
  return wrapper;
};

/** Candidate labels, multi_label and the template, filled from the model's example. */
export function fields(container, model) {
  const parameters = model?.example?.parameters ?? {};
  const labels = Array.isArray(parameters.candidate_labels) ? parameters.candidate_labels.join(', ') : (parameters.candidate_labels ?? '');
  container.append(
    input('candidate_labels', 'Candidate labels (comma-separated)', { value: labels, size: 48 }),
    input('multi_label', 'Multi-label', { type: 'checkbox', checked: parameters.multi_label === true }),
    input('hypothesis_template', 'Hypothesis template', { value: parameters.hypothesis_template ?? model?.task?.hypothesis_template ?? 'This example is {}.', size: 32 }),
  );
}

export function request(_model, context) {
  const field = (name) => context.fields.querySelector(`[name="${name}"]`);
  const parameters = { candidate_labels: field('candidate_labels').value, multi_label: field('multi_label').checked, hypothesis_template: field('hypothesis_template').value };
  return { type: 'application/json', body: JSON.stringify({ inputs: context.text, parameters }) };
}

/** One text's answer (or the first of a list) as bars. */
export function render(value, answer) {
  const one = Array.isArray(value) ? value[0] : value;
  if (!Array.isArray(one?.labels) || !Array.isArray(one?.scores)) return;
  labelBars(one.labels.map((label, i) => ({ label, score: one.scores[i] })), answer);
}
