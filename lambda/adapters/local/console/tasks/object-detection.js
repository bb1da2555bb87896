// The console's form and answer for object-detection: a file input and a score threshold; the
// uploaded image with each detection's box and label drawn over it, then the detections as bars.
import { labelBars } from './shared.js';

export const form = 'image';
export const sends = 'send: an image (JPEG, PNG or WebP, as the body), or JSON {"inputs": "<base64>", "parameters": {"threshold", "iou_threshold", "max_detections", "classes"}}';
export const answers = 'answers: [{score, label, box: {xmin, ymin, xmax, ymax}}], best first, boxes in the pixels of the image as displayed (EXIF orientation applied)';

export function fields(container, model) {
  const threshold = Object.assign(document.createElement('input'), { name: 'threshold', type: 'number', min: 0, max: 1, step: 0.05, value: model?.parameters?.threshold ?? '' });
  threshold.dataset.testid = 'detect-threshold';
  const label = document.createElement('label');
  label.append('threshold ', threshold);
  container.append(label);
}

/** The image as base64 JSON when a threshold is set (parameters need JSON), else the file itself. */
export async function request(model, context) {
  if (!context.file) throw new Error('choose an image first');
  const threshold = context.fields?.querySelector('[name="threshold"]')?.value;
  if (threshold === undefined || threshold === '') return { type: context.file.type || 'image/jpeg', body: context.file };
  const bytes = new Uint8Array(await context.file.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { type: 'application/json', body: JSON.stringify({ inputs: btoa(binary), parameters: { threshold: Number(threshold) } }) };
}

const COLOURS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#9a6324'];

export function render(value, answer, context) {
  const list = Array.isArray(value?.[0]) ? value[0] : value;
  if (!Array.isArray(list) || (list.length > 0 && !list[0]?.box)) return;
  const labels = [...new Set(list.map((d) => d.label))];
  const colour = (label) => COLOURS[labels.indexOf(label) % COLOURS.length];
  if (context?.file) {
    // Boxes are in the upright image's pixels; createImageBitmap turns the image upright too (EXIF),
    // and reads the file itself (the page's CSP allows no blob: images).
    const canvas = document.createElement('canvas');
    canvas.dataset.testid = 'detect-canvas';
    canvas.dataset.boxes = String(list.length);
    canvas.style.maxWidth = '100%';
    answer.append(canvas);
    createImageBitmap(context.file, { imageOrientation: 'from-image' }).then((image) => {
      canvas.width = image.width;
      canvas.height = image.height;
      const g = canvas.getContext('2d');
      g.drawImage(image, 0, 0);
      g.lineWidth = Math.max(2, Math.round(canvas.width / 320));
      g.font = `${Math.max(12, Math.round(canvas.width / 50))}px sans-serif`;
      for (const { label, score, box } of [...list].reverse()) {
        g.strokeStyle = g.fillStyle = colour(label);
        g.strokeRect(box.xmin, box.ymin, box.xmax - box.xmin, box.ymax - box.ymin);
        g.fillText(`${label} ${score.toFixed(2)}`, box.xmin + 2, Math.max(12, box.ymin - 4));
      }
      canvas.dataset.drawn = 'true';
    });
  }
  const summary = Object.assign(document.createElement('p'), { textContent: `${list.length} detection${list.length === 1 ? '' : 's'}` });
  summary.dataset.testid = 'detect-count';
  answer.append(summary);
  labelBars(list.slice(0, 20).map((d) => ({ label: `${d.label} [${[d.box.xmin, d.box.ymin, d.box.xmax, d.box.ymax].map((v) => Math.round(v)).join(', ')}]`, score: d.score })), answer);
}
