// The console's form and answer for token-classification: a text box; the text with each entity
// highlighted (its label and score on hover and beside it). Offsets count code points, as the
// answer gives them (Python's), so the text is sliced as an array of code points.

export const form = 'text';
export const sends = 'send: a text (text/plain), or JSON {"inputs": ..., "parameters": {"aggregation_strategy": "simple"}}';
export const answers = 'answers: entities {entity_group, score, word, start, end}, start and end in code points';

/** A colour per label, the same every time. */
function hue(label) {
  let h = 0;
  for (const ch of label) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

export function render(value, answer, context) {
  const entities = Array.isArray(value?.[0]) ? value[0] : value;
  if (!Array.isArray(entities) || typeof context?.text !== 'string') return;
  const chars = [...context.text];
  const text = Object.assign(document.createElement('p'), { className: 'entities' });
  text.style.whiteSpace = 'pre-wrap';
  text.style.lineHeight = '1.9';
  let at = 0;
  for (const e of [...entities].sort((a, b) => a.start - b.start)) {
    if (typeof e.start !== 'number' || typeof e.end !== 'number' || e.start < at) continue;
    text.append(chars.slice(at, e.start).join(''));
    const label = e.entity_group ?? e.entity;
    const mark = Object.assign(document.createElement('mark'), { textContent: chars.slice(e.start, e.end).join(''), title: `${label} ${e.score.toFixed(3)}` });
    mark.dataset.label = label;
    mark.style.background = `hsl(${hue(label)} 80% 85%)`;
    mark.style.padding = '1px 3px';
    mark.style.borderRadius = '3px';
    const tag = Object.assign(document.createElement('sup'), { textContent: ` ${label}` });
    tag.style.fontSize = '10px';
    mark.append(tag);
    text.append(mark);
    at = e.end;
  }
  text.append(chars.slice(at).join(''));
  answer.append(text);
  if (entities.length === 0) answer.append(Object.assign(document.createElement('div'), { textContent: 'no entities' }));
}
