/**
 * The README's requests, run as documented: every curl line in its sh blocks that calls the local
 * server (http://127.0.0.1:8080) or the SageMaker container (localhost:8080) runs against the
 * samples as `npm start` and `npm run start:sagemaker` serve them (bin/serve.ts and
 * bin/serve-sagemaker.ts in child processes), and must answer 2xx; where the README shows the answer
 * (the `# ...` lines under the command), the server's answer must match it to the precision shown.
 */
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { writeVisionRepository } from '../scripts/samples/vision-fixtures.ts';
import { ROOT, spawnServer } from './helpers.ts';
import { layOutTextPairFixtures } from './lambda/core/tasks/text-pairs-fixtures.ts';

const exec = promisify(execFile);

export interface DocumentedRequest {
  /** The command as the README writes it (continuation lines included). */
  readonly command: string;
  /** The answer the README shows under it, without the `# `; undefined when it shows none. */
  readonly answer?: string;
  /** The README line it starts on. */
  readonly line: number;
}

/** Whether a command line is complete: no trailing backslash, and its single quotes closed. */
const complete = (text: string) => !text.endsWith('\\') && (text.match(/'/g)?.length ?? 0) % 2 === 0;

/** The curl commands of the README's sh blocks that call a local server, with the answers shown under them. */
export function documentedRequests(readme: string): DocumentedRequest[] {
  const lines = readme.split('\n');
  const requests: DocumentedRequest[] = [];
  let inShell = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('```')) {
      inShell = !inShell && /^```(sh|bash)\s*$/.test(line);
      continue;
    }
    if (!inShell || !line.startsWith('curl ')) continue;
    const start = i;
    let command = line;
    while (!complete(command.trimEnd()) && i + 1 < lines.length) command += `\n${lines[++i]}`;
    const shown: string[] = [];
    // The answer: a `# ` line that opens JSON, and its continuations (`#  `); other comments describe the next command.
    if (i + 1 < lines.length && /^# [[{]/.test(lines[i + 1])) {
      shown.push(lines[++i].slice(2).trim());
      while (i + 1 < lines.length && lines[i + 1].startsWith('#  ')) shown.push(lines[++i].slice(2).trim());
    }
    if (/127\.0\.0\.1:808[01]|localhost:8080/.test(command)) requests.push({ command, answer: shown.length > 0 ? shown.join('') : undefined, line: start + 1 });
  }
  return requests;
}

/**
 * The tolerance a documented number stands for: half a unit of its last digit shown, and never
 * less than float32's precision (the models compute in float32; digits past it vary with the CPU's
 * kernels).
 */
function tolerance(literal: string, value: number): number {
  const [mantissa, exponent] = literal.toLowerCase().split('e');
  const decimals = mantissa.includes('.') ? mantissa.length - mantissa.indexOf('.') - 1 : 0;
  return Math.max(0.5 * 10 ** (Number(exponent ?? 0) - decimals), Math.abs(value) * 2 ** -22);
}

const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?/g;

/** A documented value against the served one; `…` as an array's last element stands for more elements. Returns the first difference. */
function difference(shown: unknown, actual: unknown, where: string): string | undefined {
  if (shown instanceof Literal) {
    if (typeof actual !== 'number') return `${where}: shown ${shown.source}, served ${JSON.stringify(actual)}`;
    return Math.abs(actual - shown.value) <= tolerance(shown.source, shown.value) ? undefined : `${where}: shown ${shown.source}, served ${actual}`;
  }
  if (typeof shown === 'string') {
    if (typeof actual !== 'string') return `${where}: shown "${shown}", served ${JSON.stringify(actual)}`;
    // Numbers inside strings (Triton's "score:index:label") to the precision shown too.
    const shownNumbers = shown.match(NUMBER) ?? [];
    const actualNumbers = actual.match(NUMBER) ?? [];
    if (shown.replace(NUMBER, '#') !== actual.replace(NUMBER, '#') || shownNumbers.length !== actualNumbers.length) return `${where}: shown "${shown}", served "${actual}"`;
    for (let k = 0; k < shownNumbers.length; k++) {
      if (Math.abs(Number(actualNumbers[k]) - Number(shownNumbers[k])) > tolerance(shownNumbers[k], Number(shownNumbers[k]))) return `${where}: shown "${shown}", served "${actual}"`;
    }
    return undefined;
  }
  if (Array.isArray(shown)) {
    if (!Array.isArray(actual)) return `${where}: shown a list, served ${JSON.stringify(actual)?.slice(0, 100)}`;
    const more = shown.at(-1) === '…';
    const items = more ? shown.slice(0, -1) : shown;
    if (more ? actual.length < items.length : actual.length !== items.length) return `${where}: shown ${items.length}${more ? ' or more' : ''} elements, served ${actual.length}`;
    for (let k = 0; k < items.length; k++) {
      const found = difference(items[k], actual[k], `${where}[${k}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (shown !== null && typeof shown === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return `${where}: shown an object, served ${JSON.stringify(actual)?.slice(0, 100)}`;
    const keys = Object.keys(shown);
    const served = Object.keys(actual);
    if (keys.join() !== served.join()) return `${where}: shown keys ${keys.join(', ')}, served ${served.join(', ')}`;
    for (const key of keys) {
      const found = difference((shown as Record<string, unknown>)[key], (actual as Record<string, unknown>)[key], `${where}.${key}`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  return shown === actual ? undefined : `${where}: shown ${JSON.stringify(shown)}, served ${JSON.stringify(actual)}`;
}

/** A number as the README writes it, with its digits. */
class Literal {
  readonly value: number;
  readonly source: string;
  constructor(value: number, source: string) {
    this.value = value;
    this.source = source;
  }
}

/** The README's answer as a value: its JSON (a note after it, in parentheses, is dropped), numbers kept with their digits, `…` as a marker. */
export function parseShown(text: string): unknown {
  let depth = 0;
  let end = 0;
  let inString = false;
  for (let k = 0; k < text.length; k++) {
    const c = text[k];
    if (inString) {
      if (c === '\\') k++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0) {
        end = k + 1;
        break;
      }
    }
  }
  const json = text.slice(0, end).replace(/,\s*…/g, ', "…"');
  return JSON.parse(json, (_key, value, context?: { source?: string }) => (typeof value === 'number' && context?.source !== undefined ? new Literal(value, context.source) : value));
}

/**
 * The samples, and the cross-encoder the README's rerank requests name (the reranker trained on
 * Debian descriptions, a test fixture: no sample is a cross-encoder) as models/debian_reranker.
 */
function samplesWithReranker(): string {
  const dir = mkdtempSync(join(tmpdir(), 'readme-models-'));
  cpSync(join(ROOT, 'models'), dir, { recursive: true });
  cpSync(join(layOutTextPairFixtures({}, ['debian-reranker']).dir, 'debian-reranker'), join(dir, 'debian_reranker'), { recursive: true });
  // The trained token classifier (training/text_tasks/train_package_tags.py), also a test model.
  cpSync(join(ROOT, 'test', 'fixtures', 'token-classification', 'debian_package_tags'), join(dir, 'debian_package_tags'), { recursive: true });
  return dir;
}

describe('README: every documented request works as written and answers what it shows', () => {
  const requests = documentedRequests(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  let local: { child: ChildProcess; url: string };
  let sagemaker: { child: ChildProcess; url: string };
  // The vision tasks' examples (port 8081) run on their test models as a repository (scripts/samples/vision-fixtures.ts).
  let vision: { child: ChildProcess; url: string };
  const curlHome = mkdtempSync(join(tmpdir(), 'readme-curl-'));
  before(async () => {
    // The status after each answer, without changing the commands: curl reads $CURL_HOME/.curlrc.
    writeFileSync(join(curlHome, '.curlrc'), 'write-out = "\\n%{http_code}"\n');
    const dataDir = mkdtempSync(join(tmpdir(), 'readme-data-'));
    [local, sagemaker] = await Promise.all([
      spawnServer('serve.ts', { LOCAL_DATA_DIR: dataDir, MODEL_DIR: samplesWithReranker() }),
      spawnServer('serve-sagemaker.ts', { MODEL_NAME: 'iris_forest', HOST: '127.0.0.1', MODEL_DIR: join(ROOT, 'models') }),
    ]);
    vision = await spawnServer('serve.ts', { MODEL_DIR: writeVisionRepository(mkdtempSync(join(tmpdir(), 'readme-vision-'))), LOCAL_DATA_DIR: mkdtempSync(join(tmpdir(), 'readme-vision-data-')) });
  });
  after(() => {
    local?.child.kill('SIGTERM');
    sagemaker?.child.kill('SIGTERM');
    vision?.child.kill('SIGTERM');
  });

  it('finds the requests (the local server and the SageMaker container) and the answers shown', () => {
    assert.ok(requests.length >= 12, `found only ${requests.length} requests`);
    assert.ok(requests.some((r) => r.command.includes('localhost:8080/invocations')));
    assert.ok(requests.filter((r) => r.answer !== undefined).length >= 7);
  });

  it('compares numbers to the precision shown, `…` as more elements, and notes after the answer dropped', () => {
    assert.equal(difference(parseShown('[[{"label":"fonts","score":0.9998}]]'), [[{ label: 'fonts', score: 0.9999993 }]], 'answer'), 'answer[0][0].score: shown 0.9998, served 0.9999993');
    assert.equal(difference(parseShown('[[{"label":"fonts","score":0.9998}]]'), [[{ label: 'fonts', score: 0.99984 }]], 'answer'), undefined);
    assert.equal(difference(parseShown('[[0.0388, 0.0367, …]]   (128 numbers)'), [[0.03881, 0.03668, 0.5]], 'answer'), undefined);
    assert.match(difference(parseShown('[[0.0093, 0.0201, …]]'), [[0.0388, 0.0367]], 'answer')!, /shown 0\.0093, served 0\.0388/);
    assert.match(difference(parseShown('{"data":["4.6283934677766433e-7:4:graphics"]}'), { data: ['4.7e-7:4:graphics'] }, 'answer')!, /served "4\.7e-7:4:graphics"/);
  });

  for (const request of requests) {
    it(`README line ${request.line}: ${request.command.split('\n')[0].slice(0, 100)}`, async () => {
      const command = request.command.replaceAll('http://127.0.0.1:8080', local.url).replaceAll('localhost:8080', sagemaker.url).replaceAll('http://127.0.0.1:8081', vision.url);
      const { stdout } = await exec('sh', ['-c', command], { cwd: ROOT, env: { ...process.env, CURL_HOME: curlHome } });
      const status = Number(stdout.slice(stdout.lastIndexOf('\n') + 1));
      const body = stdout.slice(0, stdout.lastIndexOf('\n'));
      assert.ok(status >= 200 && status < 300, `answered ${status}: ${body.slice(0, 300)}`);
      if (request.answer === undefined) return;
      const found = difference(parseShown(request.answer), JSON.parse(body), 'answer');
      assert.equal(found, undefined, `the README shows ${request.answer}\nthe server answers ${body.slice(0, 600)}`);
    });
  }
});
