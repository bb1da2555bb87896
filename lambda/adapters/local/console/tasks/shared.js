// Helpers the task renderers share (the console loads tasks/<task>.js by the model's task name).

/** One bar per {label, score}, best first, as the classifiers answer. */
export function labelBars(rows, answer) {
  for (const { label, score } of rows) {
    const row = Object.assign(document.createElement('div'), { className: 'bar' });
    row.dataset.label = label;
    const bar = document.createElement('div');
    bar.style.width = `${Math.max(1, Math.round(score * 240))}px`;
    row.append(Object.assign(document.createElement('span'), { textContent: label }), bar, Object.assign(document.createElement('em'), { textContent: score.toFixed(3) }));
    answer.append(row);
  }
}

/** A classifier's answer: one input's list of labels, or the first of a batch's. */
export function renderClasses(value, answer) {
  const rows = Array.isArray(value?.[0]) ? value[0] : value;
  if (Array.isArray(rows) && rows[0] && typeof rows[0] === 'object' && 'label' in rows[0]) labelBars(rows, answer);
}
