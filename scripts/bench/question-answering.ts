/**
 * Bench part (h)'s baseline: a bare node:http server doing only question-answering's own work (the
 * module's parse, tokenizer with offsets, stride windows, session.run, span search; JSON in, JSON
 * out) on one model folder, nothing around it, as token-classification.ts does for part (r).
 *   node scripts/bench/question-answering.ts FOLDER PORT
 */
import { questionAnswering } from '../../lambda/core/tasks/question-answering.ts';
import { serveBare, taskRunner } from './token-classification.ts';

/** Question answering's steps on a folder. */
export const questionAnswerer = (folder: string) => taskRunner(questionAnswering, folder);

if (import.meta.main) {
  const [folder, port] = process.argv.slice(2);
  serveBare(await questionAnswerer(folder), Number(port));
}
