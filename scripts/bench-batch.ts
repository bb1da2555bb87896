/**
 * npm run bench:batch — batch prediction throughput: rows per second for a 100,000-row JSON Lines
 * file per tabular sample, through the same code the Lambda workers run (local directory store,
 * one process). Prints a table and writes .bench/batch.json. A benchmark, not a test.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runJob } from '../lambda/jobs/batch-job.ts';
import { DirectoryBatchStore } from '../lambda/stores/batch-store.ts';
import { createRepository, createService, readRuntimeConfig } from '../lambda/entry/runtime-config.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const models = ['iris_forest', 'breast_cancer_classifier', 'diabetes_regressor'];
const config = readRuntimeConfig({ ...process.env, MODEL_DIR: 'models' });
const service = createService(config, createRepository(config));
const report: Record<string, unknown>[] = [];
console.log(`batch prediction, ${ROWS} rows per model, lines per chunk 10000, batch size 1000`);
console.log('model                       rows/s   seconds');
for (const name of models) {
  const model = await service.loadModel(name);
  const width = model.signature.inputs[0].shape[1];
  const work = mkdtempSync(join(tmpdir(), 'bench-batch-'));
  const key = `batch/input/${name}/bench.jsonl`;
  mkdirSync(join(work, 'batch', 'input', name), { recursive: true });
  const row = (i: number) => JSON.stringify(Array.from({ length: width }, (_, j) => ((i * 31 + j * 7) % 97) / 10));
  writeFileSync(join(work, key), Array.from({ length: ROWS }, (_, i) => row(i)).join('\n') + '\n');
  const started = performance.now();
  const manifest = await runJob(new DirectoryBatchStore(work), service, key, { linesPerChunk: 10_000, batchSize: 1000 });
  const seconds = (performance.now() - started) / 1000;
  if (manifest.succeeded !== ROWS) throw new Error(`${name}: ${manifest.failed} rows failed`);
  report.push({ model: name, rows: ROWS, seconds, rowsPerSecond: Math.round(ROWS / seconds) });
  console.log(`${name.padEnd(26)} ${String(Math.round(ROWS / seconds)).padStart(7)}   ${seconds.toFixed(2)}`);
}
mkdirSync('.bench', { recursive: true });
writeFileSync('.bench/batch.json', `${JSON.stringify({ date: new Date().toISOString(), rows: ROWS, results: report }, null, 2)}\n`);
console.log('written .bench/batch.json');
