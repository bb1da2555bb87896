/**
 * Bench part (r)'s baseline: a bare node:http server doing only token-classification's own work
 * (the module's parse, tokenizer with offsets, session.run, aggregation; JSON in, JSON out) on one
 * model folder, with nothing around it (no pipeline, registry, capture, metrics or batcher), for
 * ModelShip's local server to be compared with over the same transport.
 *   node scripts/bench/token-classification.ts FOLDER PORT
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { InferenceSession, type Tensor } from 'onnxruntime-node';
import { parseModelConfig } from '../../lambda/core/config.ts';
import { readSignature } from '../../lambda/core/signature.ts';
import { taskFolder } from '../../lambda/core/tasks/hf-folder.ts';
import type { TaskModule } from '../../lambda/core/tasks/task.ts';
import { tokenClassification } from '../../lambda/core/tasks/token-classification.ts';

// As the server opens sessions (one intra-op thread, no spinning), so the two compare.
const SESSION_OPTIONS: InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, extra: { session: { intra_op: { allow_spinning: '0' } } } };

/** A task module's steps on a folder (its parse, run and answer; the side files it lists that are there): body in, answer out, with the session's own run. */
export async function taskRunner<Loaded, Request>(task: TaskModule<Loaded, Request>, folder: string): Promise<(body: Record<string, unknown>) => Promise<unknown>> {
  const session = await InferenceSession.create(join(folder, 'model.onnx'), SESSION_OPTIONS);
  const files = new Map(task.sideFiles.filter((f) => existsSync(join(folder, f))).map((f) => [f, readFileSync(join(folder, f)) as Uint8Array]));
  const loaded = await task.load(taskFolder({ where: folder, config: parseModelConfig(undefined, folder), files, signature: readSignature(session), onnx: new Uint8Array(), createSession: () => Promise.reject(new Error('one model file')) }));
  const context = { model: { name: 'bench', version: 1 }, run: (feeds: Record<string, Tensor>, outputs?: readonly string[]) => session.run(feeds, outputs as string[]) as Promise<Record<string, Tensor>>, mark: () => undefined };
  return async (body) => (await task.run(loaded, task.parse(loaded, { kind: 'json', route: 'infer', body })!, context)).answer;
}

/** Token classification's steps on a folder. */
export const tokenClassifier = (folder: string) => taskRunner(tokenClassification, folder);

/** The bare server: POST any path with a JSON body, the runner's answer back as JSON (400 with the message when it throws). */
export function serveBare(run: (body: Record<string, unknown>) => Promise<unknown>, port: number): void {
  createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      run(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>).then(
        (answer) => response.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer)),
        (error: Error) => response.writeHead(400).end(error.message),
      );
    });
  }).listen(port, '127.0.0.1', () => console.log(`ready on ${port}`));
}

if (import.meta.main) {
  const [folder, port] = process.argv.slice(2);
  serveBare(await tokenClassifier(folder), Number(port));
}
