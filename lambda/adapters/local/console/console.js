// The local console's script: no build step, no framework; uPlot draws the charts.
/* global uPlot */
const $ = (id) => document.getElementById(id);
const models = new Map();

/**
 * Task renderers, by task name: tasks/<task>.js, an ES module loaded when a model of that task is
 * listed. It exports `form` ('text': a text box sent as text/plain; 'image': a file input sent as
 * the body; 'json': the box holds the model's example JSON), `sends` and `answers` (lines for the
 * model list), `render(value, answerElement, context)` (context: {model, text, file, imageUrl}),
 * and optionally `fields(container, model)` (extra inputs), `request(model, context)` returning
 * {type, body}, and `text(model)` (the text box's first content when the example's inputs are no string). A task without a file gets the JSON form and the raw answer.
 */
const renderers = new Map();
const GENERIC = { form: 'json', sends: 'send: JSON, as the example', answers: 'answers: JSON', render: () => undefined };
async function loadRenderer(task) {
  if (!renderers.has(task)) renderers.set(task, await import(`/console/tasks/${encodeURIComponent(task)}.js`).catch(() => GENERIC));
  return renderers.get(task);
}
/** The renderers' shared helpers (label bars), also used here for converted classifiers. */
let shared;
const rendererOf = (m) => (m?.task ? (renderers.get(m.task.task) ?? GENERIC) : undefined);

function headers() {
  const key = $('api-key').value;
  return key ? { 'x-api-key': key } : {};
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

function table(headings, rows) {
  const element = document.createElement('table');
  const head = document.createElement('tr');
  for (const name of headings) head.append(Object.assign(document.createElement('th'), { textContent: name }));
  element.append(head);
  for (const values of rows) {
    const row = document.createElement('tr');
    row.append(...values.map(cell));
    element.append(row);
  }
  return element;
}

function tensorTable(title, tensors) {
  return table([title, 'datatype', 'shape'], tensors.map((t) => [t.name, t.datatype, `[${t.shape.join(', ')}]`]));
}

const size = (bytes) => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(2)} MB` : `${(bytes / 1e3).toFixed(1)} kB`);
const signed = (value, digits) => `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(digits)}`;
/** Metrics where lower is better (as the golden gate's): their change reads the other way. */
const LOWER_IS_BETTER = new Set(['logLoss', 'rmse', 'mae']);

/** One version `modelship optimize` wrote, against its source: what optimization.json records. */
function optimizationBlock(o) {
  const div = Object.assign(document.createElement('div'), { className: 'optimization' });
  div.dataset.version = String(o.version);
  if (o.problem) {
    div.append(Object.assign(document.createElement('div'), { className: 'problem', textContent: `v${o.version}: ${o.problem}` }));
    return div;
  }
  const how = `${o.optimization}${o.graphLevel ? ` (${o.graphLevel})` : ''}`;
  div.append(Object.assign(document.createElement('h4'), { textContent: `v${o.version}: ${how} of v${o.from}, ${o.createdAt.slice(0, 10)}` }));
  const latency = o.latencyMicros.ratio <= 1 ? `${(1 / o.latencyMicros.ratio).toFixed(2)}× faster` : `${o.latencyMicros.ratio.toFixed(2)}× slower`;
  const rows = [
    ['size', size(o.bytes.source), size(o.bytes.result), o.bytes.ratio >= 1 ? `${o.bytes.ratio.toFixed(2)}× smaller` : `${(1 / o.bytes.ratio).toFixed(2)}× larger`],
    ['latency, 1 row', `${o.latencyMicros.source.toFixed(0)} µs`, `${o.latencyMicros.result.toFixed(0)} µs`, latency],
    ...Object.entries(o.metrics.result).map(([metric, result]) => {
      const delta = o.metrics.delta[metric];
      const [scale, digits, unit] = ['accuracy', 'precision', 'recall', 'f1'].includes(metric) ? [100, 2, ' pt'] : [1, 4, ''];
      // Rounded first: a change too small to show is neither worse nor better.
      const shown = Number((delta * scale).toFixed(digits));
      const worse = LOWER_IS_BETTER.has(metric) ? shown > 0 : shown < 0;
      return [metric, o.metrics.source[metric]?.toFixed(4) ?? '–', result.toFixed(4), `${shown === 0 ? (0).toFixed(digits) : signed(shown, digits)}${unit}${worse ? ' (worse)' : ''}`];
    }),
    ...Object.entries(o.maxAbsDifference).map(([output, diff]) => [`max |diff| ${output}`, '', diff.toExponential(2), 'on the golden inputs']),
  ];
  div.append(table(['', `v${o.from}`, `v${o.version}`, 'change'], rows));
  const notes = [];
  if (o.quantized.length > 0) notes.push(`quantized: ${o.quantized.map((q) => `${q.count} ${q.op} (${q.as})`).join(', ')}`);
  if (o.opsetRaisedFrom !== undefined) notes.push(`opset raised from ${o.opsetRaisedFrom} to 11`);
  if (o.keptInFloat32.length > 0) notes.push(`kept in FP32: ${o.keptInFloat32.join(', ')}`);
  for (const text of notes) div.append(Object.assign(document.createElement('div'), { className: 'note', textContent: text }));
  for (const text of o.warnings) div.append(Object.assign(document.createElement('div'), { className: 'warning', textContent: `warning: ${text}` }));
  return div;
}

async function loadModels() {
  const response = await fetch('/console/api/models', { headers: headers() });
  if (!response.ok) {
    const { error } = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    $('models').textContent = response.status === 401 ? 'This server was started with API_KEY: enter the key below to list the models.' : `could not list models: ${error}`;
    return;
  }
  const list = await response.json();
  shared ??= await import('/console/tasks/shared.js');
  await Promise.all([...new Set(list.filter((m) => m.task).map((m) => m.task.task))].map(loadRenderer));
  const container = $('models');
  container.textContent = '';
  const select = $('model');
  select.textContent = '';
  for (const m of list) {
    models.set(m.name, m);
    const div = document.createElement('div');
    div.className = 'model';
    div.dataset.model = m.name;
    const h3 = document.createElement('h3');
    // A model that cannot be served is failing, whatever version its config names.
    h3.textContent = `${m.name}  ${m.problem ? 'FAILING' : `v${m.liveVersion}`}  (versions ${m.versions.join(', ') || 'none'})`;
    div.append(h3);
    if (m.description) div.append(Object.assign(document.createElement('div'), { textContent: m.description }));
    if (m.problem) {
      div.append(Object.assign(document.createElement('div'), { className: 'problem', textContent: `unavailable: ${m.problem}` }));
    } else {
      // Image and text models take an image or text, whatever tensors their ONNX graph has inside.
      if (m.task) div.append(taskBlock(m.task));
      else div.append(tensorTable('input', m.inputs), tensorTable('output', m.outputs));
      if (m.labels) div.append(Object.assign(document.createElement('div'), { textContent: `labels: ${m.labels.join(', ')}` }));
      if (m.source) div.append(sourceBlock(m.source), featureTable(m.features));
      select.append(new Option(m.name, m.name));
    }
    if (m.optimizations?.length > 0) {
      div.append(Object.assign(document.createElement('h4'), { textContent: 'optimized versions (optimization.json)' }), ...m.optimizations.map(optimizationBlock));
    }
    container.append(div);
  }
  fillExample();
}

/** What a task model takes and answers, in place of its tensors (input_ids, pixel_values: the server makes those), as its renderer says. */
function taskBlock(task) {
  const { sends, answers } = renderers.get(task.task) ?? GENERIC;
  const div = Object.assign(document.createElement('div'), { className: 'task' });
  div.dataset.testid = 'task';
  for (const line of [`${task.task}`, sends, answers]) div.append(Object.assign(document.createElement('div'), { textContent: line }));
  return div;
}

/** A converted model's source: format, file, producer, objective and trees, and anything not exact. */
function sourceBlock(source) {
  const text = `converted from ${source.format} ${source.file}${source.producer ? ` (${source.producer})` : ''}: ${source.task}, ${source.objective ?? 'objective not recorded'}${source.link ? `, link ${source.link}` : ''}${source.trees !== undefined ? `, ${source.trees} trees` : ''}, input ${source.inputType}`;
  const div = Object.assign(document.createElement('div'), { className: 'source', textContent: text });
  if (source.inexact?.length > 0) div.append(Object.assign(document.createElement('div'), { className: 'problem', textContent: `not exact: ${source.inexact.join('; ')}` }));
  return div;
}

function featureTable(features) {
  return table(['feature', 'type', 'categories'], features.map((f) => [f.name, f.type, f.categories ? f.categories.join(', ') : '']));
}

/** One field per feature of a converted model: a number, a category from its list, or true/false; empty is missing. */
function featureFields(m) {
  const container = $('features-input');
  container.replaceChildren();
  m.features.forEach((f, i) => {
    const id = `feature-${i}`;
    const label = Object.assign(document.createElement('label'), { htmlFor: id, textContent: `${f.name} (${f.type})` });
    let field;
    if (f.type === 'categorical' || f.type === 'boolean') {
      field = document.createElement('select');
      field.append(new Option('(missing)', ''), ...(f.type === 'boolean' ? ['true', 'false'] : f.categories).map((c) => new Option(c, c)));
    } else field = Object.assign(document.createElement('input'), { type: 'number', step: 'any', placeholder: 'missing' });
    Object.assign(field, { id, name: f.name });
    field.dataset.feature = f.name;
    field.dataset.type = f.type;
    const wrap = Object.assign(document.createElement('div'), { className: 'feature' });
    wrap.append(label, field);
    container.append(wrap);
  });
}

/** The row the feature fields describe, keyed by feature name (an empty field is left out: missing). */
function featureRow() {
  const row = {};
  for (const field of $('features-input').querySelectorAll('[data-feature]')) {
    if (field.value === '') continue;
    const type = field.dataset.type;
    row[field.dataset.feature] = type === 'boolean' ? field.value === 'true' : type === 'categorical' ? field.value : Number(field.value);
  }
  return row;
}

/** What the form sends for the selected model: v2 JSON, text (text models), an image file (image models), or a converted model's features. */
function fillExample() {
  const m = models.get($('model').value);
  const renderer = rendererOf(m);
  const kind = m?.features ? 'features' : renderer ? renderer.form : 'tensors';
  $('image-input').hidden = kind !== 'image';
  const fields = $('task-fields');
  fields.replaceChildren();
  fields.hidden = !renderer?.fields;
  if (renderer?.fields) renderer.fields(fields, m);
  $('features-input').hidden = kind !== 'features';
  // A JSON-form renderer with its own fields and request replaces the body box (text and image forms keep theirs).
  const ownForm = kind === 'json' && Boolean(renderer?.request);
  $('body').hidden = kind === 'image' || kind === 'features' || ownForm;
  if (kind === 'features') featureFields(m);
  // One heading per form: an image model's is the file input's own label.
  $('body-label').hidden = kind === 'image' || ownForm;
  $('body-label').textContent = kind === 'text' ? `Text (${m.task.task})` : kind === 'features' ? 'Features (empty: missing)' : kind === 'json' ? `Body (${m.task.task}, JSON)` : 'Body (Open Inference Protocol v2)';
  $('image-label').textContent = kind === 'image' ? `Image (${m.task.task}): JPEG, PNG or WebP` : 'Image (JPEG, PNG or WebP)';
  // The previous model's answer does not belong to this one.
  $('answer').replaceChildren();
  $('response').textContent = '';
  $('status').textContent = '';
  if (kind === 'text') $('body').value = typeof m.example?.inputs === 'string' ? m.example.inputs : (renderer?.text?.(m) ?? '');
  else if (m?.example) $('body').value = JSON.stringify(m.example, null, 2);
}

/** A task model's answer as its renderer draws it; a converted model's probabilities as bars; or a tensor answer's first prediction. */
function showAnswer(value, context) {
  const answer = $('answer');
  answer.replaceChildren();
  const renderer = rendererOf(context?.model);
  if (renderer) {
    renderer.render(value, answer, context);
    return;
  }
  if (value?.predictions?.[0]?.probabilities) {
    // A converted classifier's row: each class's probability as a bar, the predicted one first.
    const { label, probabilities } = value.predictions[0];
    const names = models.get($('model').value)?.labels;
    const rows = probabilities.map((score, i) => ({ label: names?.[i] ?? String(i), score })).sort((a, b) => b.score - a.score);
    shared.labelBars(rows, answer);
    answer.prepend(Object.assign(document.createElement('div'), { textContent: `label: ${label}` }));
  } else if (value?.predictions?.[0] !== undefined) {
    answer.textContent = `prediction: ${JSON.stringify(value.predictions[0])}`;
  }
}

/** What the form sends for a task model: its renderer's request, else the image, the text, or the JSON body. */
function taskRequest(m, renderer, context) {
  if (renderer.request) return renderer.request(m, context);
  if (renderer.form === 'image') {
    if (!context.file) throw new Error('choose an image first');
    return { type: context.file.type || 'image/jpeg', body: context.file };
  }
  return renderer.form === 'text' ? { type: 'text/plain', body: context.text } : { type: 'application/json', body: context.text };
}

async function send(event) {
  event.preventDefault();
  const name = $('model').value;
  const started = performance.now();
  $('status').textContent = 'sending…';
  try {
    const m = models.get(name);
    const file = $('image').files?.[0];
    const renderer = rendererOf(m);
    const context = { model: m, text: $('body').value, file, imageUrl: file && renderer?.form === 'image' ? URL.createObjectURL(file) : undefined, fields: $('task-fields') };
    // A renderer's request may be async (reading the file for base64 JSON).
    const { type, body } = renderer ? await taskRequest(m, renderer, context) : m?.features ? { type: 'application/json', body: JSON.stringify({ instances: [featureRow()] }) } : { type: 'application/json', body: $('body').value };
    // A converted model's one row goes to :predict, by feature name; everything else is a v2 inference.
    const url = m?.features ? `/v1/models/${encodeURIComponent(name)}:predict` : `/v2/models/${encodeURIComponent(name)}/infer`;
    const response = await fetch(url, { method: 'POST', headers: { 'Content-Type': type, ...headers() }, body });
    const text = await response.text();
    const ms = (performance.now() - started).toFixed(1);
    $('status').textContent = `HTTP ${response.status} in ${ms} ms`;
    $('status').className = response.ok ? 'status-ok' : 'status-error';
    try {
      const value = JSON.parse(text);
      $('response').textContent = JSON.stringify(value, null, 2);
      showAnswer(value, context);
    } catch {
      $('response').textContent = text;
    }
  } catch (error) {
    $('status').textContent = `request failed: ${error.message}`;
    $('status').className = 'status-error';
  }
}

function chart(target, series) {
  const width = Math.max(340, target.clientWidth || 380);
  return new uPlot({ width, height: 200, series: [{}, ...series], axes: [{}, { size: 50 }], scales: { x: { time: true } } }, [[], ...series.map(() => [])], target);
}

const charts = {};
function setupCharts() {
  charts.rate = chart($('chart-rate'), [{ label: 'requests/s', stroke: '#2e6be6', width: 2 }]);
  charts.errors = chart($('chart-errors'), [
    { label: '4xx %', stroke: '#dc6803', width: 2, spanGaps: true },
    { label: '5xx %', stroke: '#b42318', width: 2, spanGaps: true },
  ]);
  charts.latency = chart($('chart-latency'), [
    { label: 'p50', stroke: '#067647', width: 2, spanGaps: true },
    { label: 'p95', stroke: '#dc6803', width: 2, spanGaps: true },
    { label: 'p99', stroke: '#b42318', width: 2, spanGaps: true },
  ]);
}

const fmt = (v) => (v === null || v === undefined ? '–' : v.toFixed(1));

async function refresh() {
  try {
    const response = await fetch('/console/api/stats', { headers: headers() });
    if (!response.ok) return;
    const stats = await response.json();
    const { series, lastMinute } = stats;
    charts.rate.setData([series.time, series.rate]);
    charts.errors.setData([series.time, series.clientErrorRate, series.serverErrorRate]);
    charts.latency.setData([series.time, series.p50, series.p95, series.p99]);
    $('summary').textContent = `last minute: ${lastMinute.requests} requests (${lastMinute.ratePerSecond.toFixed(2)}/s), errors ${lastMinute.errorRatePercent.toFixed(1)}%, latency p50 ${fmt(lastMinute.p50)} / p95 ${fmt(lastMinute.p95)} / p99 ${fmt(lastMinute.p99)} ms`;
    $('summary').dataset.requests = String(lastMinute.requests);
    $('summary').dataset.errorRate = String(lastMinute.errorRatePercent);
    const batching = Object.entries(stats.batching ?? {});
    $('batching').textContent = batching.length === 0 ? '' : `dynamic batching: ${batching.map(([model, b]) => `${model} ${b.batches} runs for ${b.requests} requests, mean ${b.meanBatchRows.toFixed(1)} rows (largest ${b.largestBatchRows}), mean queue delay ${b.meanQueueDelayMs.toFixed(2)} ms`).join('; ')}`;
    $('batching').dataset.batches = String(batching.reduce((n, [, b]) => n + b.batches, 0));
  } catch {
    // The server may be restarting; the next tick tries again.
  }
}

$('model').addEventListener('change', fillExample);
$('request-form').addEventListener('submit', send);
$('api-key').addEventListener('change', loadModels);
setupCharts();
loadModels().catch((error) => {
  $('models').textContent = `could not list models: ${error.message}`;
});
refresh();
setInterval(refresh, 1000);
