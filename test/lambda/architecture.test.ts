/**
 * The layout by role, enforced: what each folder of lambda/ may import (README, "Architecture").
 * Reads every source file's import statements; a new file that breaks a rule fails here, naming it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import { listTree, ROOT } from '../helpers.ts';

const LAMBDA = join(ROOT, 'lambda');

interface SourceFile {
  /** Path under lambda/, with / separators. */
  readonly path: string;
  /** Its role: core, stores, observability, adapters/<transport>, jobs or entry. */
  readonly role: string;
  /** Imported modules: lambda/ paths for relative imports, package names for the rest. */
  readonly imports: readonly string[];
  readonly text: string;
}

const roleOf = (path: string): string => (path.startsWith('adapters/') ? path.split('/').slice(0, 2).join('/') : path.split('/')[0]);

function sourceFiles(): SourceFile[] {
  return listTree(LAMBDA)
    .filter((path) => path.endsWith('.ts'))
    .map((path) => {
      const text = readFileSync(join(LAMBDA, path), 'utf8');
      // import ... from 'x' (over several lines too), import 'x', export ... from 'x', import('x').
      const specs = [
        ...text.matchAll(/^\s*import\s+(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm),
        ...text.matchAll(/^\s*export\s+[^'";]*?\s+from\s+['"]([^'"]+)['"]/gm),
        ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
      ].map((m) => m[1]);
      const imports = specs.map((spec) => {
        if (!spec.startsWith('.')) return spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        return relative(LAMBDA, resolve(dirname(join(LAMBDA, path)), spec)).split(sep).join('/');
      });
      return { path, role: roleOf(path), imports, text };
    });
}

const FILES = sourceFiles();
const local = (spec: string) => !spec.startsWith('node:') && /\.ts$/.test(spec);

/** For each role: the roles of lambda/ it may import, and the packages. */
const RULES: Record<string, { roles: RegExp; packages: RegExp }> = {
  core: { roles: /^core$/, packages: /^(node:.*|onnxruntime-node|zod|sharp|@huggingface\/tokenizers)$/ },
  stores: { roles: /^(core|stores)$/, packages: /^(node:.*|@aws-sdk\/.*)$/ },
  observability: { roles: /^(core|stores|observability)$/, packages: /^(node:.*|@aws-lambda-powertools\/.*)$/ },
  jobs: { roles: /^(core|stores|observability|jobs)$/, packages: /^(node:.*|@aws-sdk\/.*|@aws-lambda-powertools\/.*|csv-parse)$/ },
  'adapters/http': { roles: /^(core|observability|adapters\/http)$/, packages: /^(node:.*|@middy\/.*|aws-lambda)$/ },
  'adapters/api-gateway': { roles: /^(core|observability|adapters\/http|adapters\/api-gateway)$/, packages: /^(node:.*|aws-lambda)$/ },
  'adapters/sagemaker': { roles: /^(core|observability|adapters\/http|adapters\/sagemaker)$/, packages: /^(node:.*|@aws-sdk\/.*)$/ },
  'adapters/local': { roles: /^(core|observability|stores|adapters\/http|adapters\/local)$/, packages: /^(node:.*|@smithy\/signature-v4|@smithy\/core)$/ },
  convert: { roles: /^(core|convert)$/, packages: /^(node:.*|protobufjs|saxes)$/ },
  entry: { roles: /^(core|stores|observability|adapters\/.*|jobs|convert|entry)$/, packages: /.*/ },
};

describe('lambda/ layout', () => {
  it('puts every file in a role folder', () => {
    const loose = FILES.filter((f) => RULES[f.role] === undefined).map((f) => f.path);
    assert.deepEqual(loose, [], 'files outside core/, stores/, observability/, adapters/{http,api-gateway,sagemaker,local}/, jobs/, convert/, entry/');
  });

  for (const [role, rule] of Object.entries(RULES)) {
    it(`${role}/ imports only what its role allows`, () => {
      const broken: string[] = [];
      for (const file of FILES.filter((f) => f.role === role)) {
        for (const spec of file.imports) {
          const ok = local(spec) ? rule.roles.test(roleOf(spec)) : rule.packages.test(spec);
          if (!ok) broken.push(`${file.path} imports ${spec}`);
        }
      }
      assert.deepEqual(broken, []);
    });
  }

  it('keeps the core pure: no AWS SDK, no aws-lambda, no process.env', () => {
    const offenders = FILES.filter((f) => f.role === 'core' && /process\.env|@aws-sdk|aws-lambda/.test(f.text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ''))).map((f) => f.path);
    assert.deepEqual(offenders, []);
  });

  it('reads process.env only in entry/', () => {
    const offenders = FILES.filter((f) => f.role !== 'entry' && /process\.env/.test(f.text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ''))).map((f) => f.path);
    assert.deepEqual(offenders, []);
  });

  it('never imports entry/ from lambda/, lib/ or cli/ (only bin/ starts an entry)', () => {
    const outside = [...listTree(join(ROOT, 'lib')).map((p) => join(ROOT, 'lib', p)), ...listTree(join(ROOT, 'cli')).map((p) => join(ROOT, 'cli', p))];
    const offenders = [
      ...FILES.filter((f) => f.role !== 'entry' && f.imports.some((spec) => spec.startsWith('entry/'))).map((f) => f.path),
      ...outside.filter((file) => /from '[./]+lambda\/entry\//.test(readFileSync(file, 'utf8'))).map((file) => relative(ROOT, file)),
    ];
    assert.deepEqual(offenders, []);
  });

  it('can fail: a core file importing an adapter breaks the rule', () => {
    const rule = RULES.core;
    assert.equal(rule.roles.test(roleOf('adapters/http/pipeline.ts')), false);
    assert.equal(rule.packages.test('@aws-sdk/client-s3'), false);
  });
});
