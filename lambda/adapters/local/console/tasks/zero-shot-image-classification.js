// The console's form and answer for zero-shot-image-classification: a file input and the candidate
// labels (comma-separated); one bar per label, best first.
import { renderClasses } from './shared.js';

export const form = 'image';
export const sends = 'send: JSON {"inputs": "<base64 image>", "parameters": {"candidate_labels": ["a cat", "a dog"], "hypothesis_template": "This is a photo of {}."}} (a raw image is scored against config.json "labels")';
export const answers = 'answers: each candidate label with its score, best first (softmax over the labels for CLIP, an independent sigmoid per label for SigLIP)';

export function fields(container, model) {
  const labels = Object.assign(document.createElement('input'), { name: 'candidate_labels', type: 'text', size: 48, value: (model?.task?.labels ?? ['a photo', 'a drawing', 'a diagram']).join(', ') });
  labels.dataset.testid = 'zero-shot-labels';
  const label = document.createElement('label');
  label.append('candidate labels (comma-separated) ', labels);
  container.append(label);
}

/** The image as base64 JSON with the candidate labels (parameters need JSON). */
export async function request(model, context) {
  if (!context.file) throw new Error('choose an image first');
  const labels = String(context.fields?.querySelector('[name="candidate_labels"]')?.value ?? '').split(',').map((l) => l.trim()).filter((l) => l !== '');
  const bytes = new Uint8Array(await context.file.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { type: 'application/json', body: JSON.stringify({ inputs: btoa(binary), parameters: { candidate_labels: labels } }) };
}

export const render = renderClasses;
