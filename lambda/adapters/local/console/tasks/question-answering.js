// The console's form and answer for question-answering: a question field and top_k beside the text
// box, which holds the context; the answer highlighted in the context, then each answer with its score.

export const form = 'text';
export const sends = 'send: JSON {"inputs": {"question": "…", "context": "…"}, "parameters": {"top_k", "doc_stride", "max_answer_len", "handle_impossible_answer", …}}';
export const answers = 'answers: {score, start, end, answer}, a span of the context (start and end in code points), or a list when top_k > 1';

/** The text box's first content: the example's context. */
export const text = (model) => model?.example?.inputs?.context ?? '';

export function fields(container, model) {
  const question = Object.assign(document.createElement('input'), { name: 'question', type: 'text', size: 60, value: model?.example?.inputs?.question ?? '' });
  question.dataset.testid = 'qa-question';
  const topK = Object.assign(document.createElement('input'), { name: 'top_k', type: 'number', min: 1, max: 20, value: 1 });
  const impossible = Object.assign(document.createElement('input'), { name: 'handle_impossible_answer', type: 'checkbox' });
  const label = (text, input) => {
    const l = document.createElement('label');
    l.append(`${text} `, input);
    return l;
  };
  container.append(label('Question', question), label('top_k', topK), label('may have no answer', impossible));
}

export function request(model, context) {
  const field = (name) => context.fields.querySelector(`[name="${name}"]`);
  const question = field('question')?.value ?? '';
  const parameters = { top_k: Number(field('top_k')?.value || 1) };
  if (field('handle_impossible_answer')?.checked) parameters.handle_impossible_answer = true;
  return { type: 'application/json', body: JSON.stringify({ inputs: { question, context: context.text }, parameters }) };
}

export function render(value, answer, context) {
  const list = Array.isArray(value) ? value : [value];
  const best = list[0];
  if (!best || typeof best.start !== 'number') return;
  // start and end count code points, as Python does; Array.from splits the text the same way.
  const chars = Array.from(context?.text ?? '');
  const shown = document.createElement('p');
  shown.className = 'qa-context';
  const mark = Object.assign(document.createElement('mark'), { textContent: chars.slice(best.start, best.end).join('') });
  mark.dataset.testid = 'qa-answer';
  shown.append(chars.slice(0, best.start).join(''), mark, chars.slice(best.end).join(''));
  if (best.answer === '') shown.prepend(Object.assign(document.createElement('strong'), { textContent: 'no answer in the context. ' }));
  answer.append(shown);
  for (const { answer: text, score, start, end } of list) {
    const row = Object.assign(document.createElement('div'), { className: 'bar' });
    row.dataset.label = text;
    const bar = document.createElement('div');
    bar.style.width = `${Math.max(1, Math.round(score * 240))}px`;
    row.append(Object.assign(document.createElement('span'), { textContent: text === '' ? '(no answer)' : `${text} [${start}–${end}]` }), bar, Object.assign(document.createElement('em'), { textContent: score.toFixed(4) }));
    answer.append(row);
  }
}
