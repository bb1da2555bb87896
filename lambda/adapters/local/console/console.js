// The local console's script: no build step, no framework; uPlot draws the charts.
/* global uPlot */
const $ = (id) => document.getElementById(id);
const models = new Map();

function headers() {
  const key = $('api-key').value;
  return key ? { 'x-api-key': key } : {};
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

function tensorTable(title, tensors) {
  const table = document.createElement('table');
  const head = document.createElement('tr');
  for (const name of [title, 'datatype', 'shape']) {
    const th = document.createElement('th');
    th.textContent = name;
    head.append(th);
  }
  table.append(head);
  for (const t of tensors) {
    const row = document.createElement('tr');
    row.append(cell(t.name), cell(t.datatype), cell(`[${t.shape.join(', ')}]`));
    table.append(row);
  }
  return table;
}

async function loadModels() {
  const response = await fetch('/console/api/models', { headers: headers() });
  if (!response.ok) {
    const { error } = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    $('models').textContent = response.status === 401 ? 'This server was started with API_KEY: enter the key below to list the models.' : `could not list models: ${error}`;
    return;
  }
  const list = await response.json();
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
    h3.textContent = `${m.name}  v${m.liveVersion ?? '-'}  (versions ${m.versions.join(', ') || 'none'})`;
    div.append(h3);
    if (m.description) div.append(Object.assign(document.createElement('div'), { textContent: m.description }));
    if (m.problem) {
      div.append(Object.assign(document.createElement('div'), { className: 'problem', textContent: `unavailable: ${m.problem}` }));
    } else {
      div.append(tensorTable('input', m.inputs), tensorTable('output', m.outputs));
      if (m.labels) div.append(Object.assign(document.createElement('div'), { textContent: `labels: ${m.labels.join(', ')}` }));
      select.append(new Option(m.name, m.name));
    }
    container.append(div);
  }
  fillExample();
}

/** What the form sends for the selected model: v2 JSON, text (text models) or an image file (image models). */
function fillExample() {
  const m = models.get($('model').value);
  const kind = m?.task?.contentTypes?.includes('text/plain') ? 'text' : m?.task ? 'image' : 'tensors';
  $('image-input').hidden = kind !== 'image';
  $('body').hidden = kind === 'image';
  $('body-label').textContent = kind === 'text' ? `Text (${m.task.task})` : kind === 'image' ? `Image (${m.task.task})` : 'Body (Open Inference Protocol v2)';
  if (kind === 'text') $('body').value = typeof m.example?.inputs === 'string' ? m.example.inputs : '';
  else if (m?.example) $('body').value = JSON.stringify(m.example, null, 2);
}

/** Top-k bars for classifiers, the size of an embedding, or nothing for tensor answers. */
function showAnswer(value) {
  const answer = $('answer');
  answer.replaceChildren();
  const first = Array.isArray(value) ? value[0] : undefined;
  if (first && typeof first === 'object' && 'label' in first) {
    for (const { label, score } of value) {
      const row = Object.assign(document.createElement('div'), { className: 'bar' });
      row.dataset.label = label;
      const bar = document.createElement('div');
      bar.style.width = `${Math.max(1, Math.round(score * 240))}px`;
      row.append(Object.assign(document.createElement('span'), { textContent: label }), bar, Object.assign(document.createElement('em'), { textContent: score.toFixed(3) }));
      answer.append(row);
    }
  } else if (Array.isArray(first) && typeof first[0] === 'number') {
    answer.textContent = `embedding of ${first.length} dimensions (${value.length} text${value.length === 1 ? '' : 's'})`;
  }
}

async function send(event) {
  event.preventDefault();
  const name = $('model').value;
  const started = performance.now();
  $('status').textContent = 'sending…';
  try {
    const m = models.get(name);
    const file = $('image').files?.[0];
    const isImage = m?.task && !m.task.contentTypes.includes('text/plain');
    if (isImage && !file) throw new Error('choose an image first');
    const [type, body] = isImage ? [file.type || 'image/jpeg', file] : m?.task ? ['text/plain', $('body').value] : ['application/json', $('body').value];
    const response = await fetch(`/v2/models/${encodeURIComponent(name)}/infer`, { method: 'POST', headers: { 'Content-Type': type, ...headers() }, body });
    const text = await response.text();
    const ms = (performance.now() - started).toFixed(1);
    $('status').textContent = `HTTP ${response.status} in ${ms} ms`;
    $('status').className = response.ok ? 'status-ok' : 'status-error';
    try {
      const value = JSON.parse(text);
      $('response').textContent = JSON.stringify(value, null, 2);
      showAnswer(value);
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
