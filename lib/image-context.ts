/**
 * Stages the inference image's build context at synth time, without Docker: the handler bundled by
 * esbuild (onnxruntime-node left out: it loads a native binding at run time and cannot be bundled),
 * plus onnxruntime-node's runtime files for one platform. The Dockerfile only copies them.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { buildSync } from 'esbuild';
import type { ModelConfig } from '../lambda/core/config.ts';
import { taskFolder } from '../lambda/core/tasks/hf-folder.ts';
import { moduleFor, moduleTakesImages, TASK_SIDE_FILES, taskModule } from '../lambda/core/tasks/registry.ts';

export type ImageArchitecture = 'x86_64' | 'arm64';

export const PROJECT_ROOT = join(import.meta.dirname, '..');

export interface StageImageOptions {
  /** Directory to stage into; emptied first. */
  readonly outDir: string;
  /** @default 'x86_64' */
  readonly architecture?: ImageArchitecture;
  /** Entry points to bundle, by output name (index → index.mjs). @default { index: lambda/entry/api.ts, batch: lambda/entry/batch.ts, drift: lambda/entry/drift.ts } */
  readonly entryPoints?: Readonly<Record<string, string>>;
  /** Dockerfile to copy in. @default lambda/Dockerfile */
  readonly dockerfile?: string;
  /**
   * Copy onnxruntime-node's runtime files for the architecture into node_modules (the Lambda image).
   * When false, the Dockerfile installs onnxruntime-node itself (the GPU image, which opts into the
   * CUDA provider at build time). @default true
   */
  readonly includeOnnxRuntime?: boolean;
  /**
   * Code behind dynamic imports (the tracer and the X-Ray SDK, the Lambda client for shadow runs) and
   * code the entry points share go to chunks/, loaded when first imported. In one file, a lazily
   * imported module's own static imports were hoisted and ran at every cold start: the tracer's
   * `import http from "node:http"` alone cost ~40 ms there (an ES module import of node:http loads
   * undici), measured by npm run bench's cold start part. @default true
   */
  readonly splitting?: boolean;
}

export interface StagedImageContext {
  readonly directory: string;
  /** Bytes the Dockerfile adds to the base image. */
  readonly bytes: number;
}

const require = createRequire(import.meta.url);

function directorySize(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((sum, name) => sum + directorySize(join(path, name)), 0);
}

/** The Node.js platform directory onnxruntime-node keeps each architecture's binaries in. */
export const ortArch = (architecture: ImageArchitecture): string => (architecture === 'arm64' ? 'arm64' : 'x64');

export function stageImageContext(options: StageImageOptions): StagedImageContext {
  const out = options.outDir;
  const architecture = options.architecture ?? 'x86_64';
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });

  buildSync({
    entryPoints: options.entryPoints ?? { index: join(PROJECT_ROOT, 'lambda', 'entry', 'api.ts'), batch: join(PROJECT_ROOT, 'lambda', 'entry', 'batch.ts'), drift: join(PROJECT_ROOT, 'lambda', 'entry', 'drift.ts') },
    outdir: out,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: options.splitting ?? true,
    chunkNames: 'chunks/[name]-[hash]',
    platform: 'node',
    target: 'node24',
    format: 'esm',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    // Native modules stay out of the bundle and are copied for the image's architecture below.
    external: ['onnxruntime-node', 'sharp'],
    // Some bundled CommonJS dependencies call require() for Node built-ins.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: 'error',
  });

  if (options.includeOnnxRuntime ?? true) copyOnnxRuntime(out, architecture);
  // The Lambda image gets sharp copied in; the GPU image's Dockerfile installs it with onnxruntime (npm picks its platform's binaries).
  if (options.includeOnnxRuntime ?? true) copySharp(out, architecture);

  const dependencies = { 'onnxruntime-node': onnxRuntimeVersion(), ...(options.includeOnnxRuntime ?? true ? {} : { sharp: sharpVersion() }) };
  // npm (11+) runs no dependency's install script unless package.json allows it. The image that
  // installs onnxruntime-node itself (the GPU one) allows its script, which fetches the CUDA provider.
  const allowScripts = options.includeOnnxRuntime ?? true ? undefined : { 'onnxruntime-node': true };
  writeFileSync(join(out, 'package.json'), `${JSON.stringify({ name: 'modelship-inference', private: true, type: 'module', dependencies, allowScripts }, null, 2)}\n`);
  cpSync(options.dockerfile ?? join(PROJECT_ROOT, 'lambda', 'Dockerfile'), join(out, 'Dockerfile'));
  return { directory: out, bytes: directorySize(out) - directorySize(join(out, 'Dockerfile')) };
}

/** The npm line that adds sharp's native packages for an architecture npm did not install here. */
export const sharpInstallLine = (architecture: ImageArchitecture): string => {
  const arch = ortArch(architecture);
  return `npm install --no-save --os=linux --cpu=${arch} --libc=glibc @img/sharp-linux-${arch}@${sharpVersion()} @img/sharp-libvips-linux-${arch}`;
};

const sharpVersion = (): string => (JSON.parse(readFileSync(join(PROJECT_ROOT, 'node_modules', 'sharp', 'package.json'), 'utf8')) as { version: string }).version;

/** Whether sharp's native packages for an architecture are installed (npm installs the build machine's own). */
export function hasSharpBinaries(architecture: ImageArchitecture): boolean {
  const arch = ortArch(architecture);
  return [`sharp-linux-${arch}`, `sharp-libvips-linux-${arch}`].every((p) => existsSync(join(PROJECT_ROOT, 'node_modules', '@img', p, 'package.json')));
}

/**
 * sharp (image decoding and resizing) into out/node_modules: its JavaScript, its dependencies, and
 * the native packages for the architecture (glibc Linux, as Lambda runs). Missing native packages
 * leave sharp out; the stack refuses to synthesize image models without it (hasSharpBinaries).
 */
export function copySharp(out: string, architecture: ImageArchitecture): void {
  if (!hasSharpBinaries(architecture)) return;
  const arch = ortArch(architecture);
  const modules = join(PROJECT_ROOT, 'node_modules');
  // Runtime files only: no sources, install scripts, type declarations or command-line tools.
  const skip = (src: string) => !/\.(map|d\.ts|d\.mts|md)$/.test(src) && !/\/(src|install|bin)(\/|$)/.test(src.slice(modules.length));
  for (const pkg of ['sharp', '@img/colour', 'detect-libc', 'semver', `@img/sharp-linux-${arch}`, `@img/sharp-libvips-linux-${arch}`]) {
    cpSync(join(modules, pkg), join(out, 'node_modules', pkg), { recursive: true, filter: skip });
  }
}

/** The onnxruntime-node version the project is locked to; images install or copy exactly this. */
export function onnxRuntimeVersion(): string {
  return (JSON.parse(readFileSync(require.resolve('onnxruntime-node/package.json'), 'utf8')) as { version: string }).version;
}

/** onnxruntime-node's runtime files (JavaScript, and native binaries for one platform) into out/node_modules. */
export function copyOnnxRuntime(out: string, architecture: ImageArchitecture): void {
  const ortRoot = dirname(require.resolve('onnxruntime-node/package.json'));
  // onnxruntime-common's exports map hides package.json; its CommonJS entry is dist/cjs/index.js.
  const commonRoot = join(dirname(require.resolve('onnxruntime-common', { paths: [ortRoot] })), '..', '..');
  const ortOut = join(out, 'node_modules', 'onnxruntime-node');
  cpSync(join(ortRoot, 'package.json'), join(ortOut, 'package.json'));
  cpSync(join(ortRoot, 'dist'), join(ortOut, 'dist'), { recursive: true, filter: (src) => !/\.(map|d\.ts)$/.test(src) });
  const binaries = join('bin', 'napi-v6', 'linux', ortArch(architecture));
  if (!existsSync(join(ortRoot, binaries))) throw new Error(`onnxruntime-node has no ${binaries}; reinstall it`);
  cpSync(join(ortRoot, binaries), join(ortOut, binaries), { recursive: true });
  const commonOut = join(out, 'node_modules', 'onnxruntime-common');
  cpSync(join(commonRoot, 'package.json'), join(commonOut, 'package.json'));
  cpSync(join(commonRoot, 'dist', 'cjs'), join(commonOut, 'dist', 'cjs'), { recursive: true, filter: (src) => !/\.(map|d\.ts)$/.test(src) });
}

/** The SageMaker image's context: the container server bundled; the Dockerfile installs onnxruntime-node with CUDA. */
export function stageSageMakerImageContext(outDir: string): StagedImageContext {
  return stageImageContext({
    outDir,
    entryPoints: { index: join(PROJECT_ROOT, 'bin', 'serve-sagemaker.ts') },
    dockerfile: join(PROJECT_ROOT, 'lambda', 'Dockerfile.sagemaker'),
    includeOnnxRuntime: false,
    // One long-running server: nothing to gain from lazy chunks, and its Dockerfile copies one file.
    splitting: false,
  });
}

/**
 * Whether a model folder on disk is served by a task that takes images (sharp must then ship for
 * the functions' architecture): config.json's task, else the registry's detection over the
 * folder's config.json, side files and model.onnx metadata; a folder with a Hugging Face image
 * processor's preprocessor_config.json counts whatever the detection says.
 */
export function takesImagesOnDisk(versionDir: string, config: ModelConfig): boolean {
  if (existsSync(join(versionDir, 'preprocessor_config.json'))) return true;
  // A task config.json names decides without reading the model.
  const named = config.task === undefined ? undefined : taskModule(config.task);
  if (named !== undefined) return moduleTakesImages(named);
  const files = new Map<string, Uint8Array>();
  for (const file of TASK_SIDE_FILES) if (existsSync(join(versionDir, file)) && !file.endsWith('.onnx')) files.set(file, readFileSync(join(versionDir, file)));
  const onnx = [join(versionDir, 'model.onnx'), join(versionDir, 'onnx', 'model.onnx')].find((p) => existsSync(p));
  try {
    const folder = taskFolder({ where: versionDir, config, files, signature: { inputs: [], outputs: [] }, onnx: onnx === undefined ? new Uint8Array() : readFileSync(onnx), createSession: () => Promise.reject(new Error('no sessions at synth')) });
    const module = moduleFor(folder);
    return module !== undefined && moduleTakesImages(module);
  } catch {
    return false;
  }
}
