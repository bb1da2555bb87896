/**
 * Which version the plain routes serve, from the repository's side: an optimized candidate stays
 * off them until promoted (`modelship optimize` pins the live version when nothing pins it), and
 * `modelship promote` makes a version live. Deployed, `npx cdk deploy` then runs the golden gate on
 * it and shifts traffic as the model's `deployment` says; locally, a restarted server serves it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseModelConfig } from '../lambda/core/config.ts';
import { pinVersion } from './rollback.ts';

const versionsOf = (modelsDir: string, model: string): number[] =>
  readdirSync(join(modelsDir, model))
    .filter((v) => /^[1-9]\d*$/.test(v))
    .map(Number)
    .sort((a, b) => a - b);

function readConfig(modelsDir: string, model: string) {
  const file = join(modelsDir, model, 'config.json');
  return parseModelConfig(existsSync(file) ? readFileSync(file, 'utf8') : undefined, file);
}

/**
 * Keeps a new candidate off the plain routes: when the model follows "latest" (nothing pins it), pins
 * the version that was live before `candidate` arrived. Answers the pin written, if any.
 */
export function keepLiveVersion(modelsDir: string, model: string, candidate: number): { version: number; file: string } | undefined {
  if (readConfig(modelsDir, model).versionPolicy !== 'latest') return undefined;
  const live = versionsOf(modelsDir, model).filter((v) => v !== candidate).at(-1);
  if (live === undefined) return undefined;
  return { version: live, file: pinVersion(modelsDir, model, live) };
}

/** The live version the config names: the pinned one, or the highest for "latest". */
export function liveVersion(modelsDir: string, model: string): number | undefined {
  const policy = readConfig(modelsDir, model).versionPolicy;
  return policy === 'latest' ? versionsOf(modelsDir, model).at(-1) : policy.pinned;
}

/** How a candidate becomes live, as the commands print it. */
export function promotionHint(model: string, candidate: number): string {
  return `npm run cli -- promote --model ${model} --version ${candidate}; then npx cdk deploy (the golden gate checks it, then traffic shifts as config.json's "deployment" says: a 10% canary for 5 minutes by default), or restart npm start to serve it locally`;
}

/** Makes `version` the live one (pins it in config.json); answers the file and the version live before. */
export function promote(modelsDir: string, model: string, version: number): { file: string; previous: number | undefined } {
  if (!existsSync(join(modelsDir, model))) throw new Error(`no model "${model}" in ${modelsDir}`);
  const previous = liveVersion(modelsDir, model);
  return { file: pinVersion(modelsDir, model, version), previous };
}
