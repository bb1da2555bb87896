/**
 * image-feature-extraction (transformers' pipelines/image_feature_extraction.py; transformers.js's
 * ImageFeatureExtractionPipeline): an image in, one embedding per image out, `[[...]]` as the
 * pipeline answers a pooled output. ViT, DINOv2, CLIP's and SigLIP's vision towers (with or without
 * projection), and a one-file CLIP or SigLIP export (its image_embeds; the text half is fed a
 * one-token placeholder the answer does not depend on).
 *
 * Pooling: "pooler" is the model's own pooled vector (image_embeds where the export projects, as
 * CLIPVisionModelWithProjection does, else pooler_output: the pipeline's `pool=True`), "cls" the first
 * token of last_hidden_state, "mean" the mean of the patch tokens (CLS and register tokens left out,
 * as Dinov2ForImageClassification and timm's global average pool do). The default is the
 * architecture's: the projection where there is one, CLS for ViT / DINOv2 / DeiT / BEiT (what
 * transformers.js's pipeline users take as `output[:, 0]`, and DINOv2's pooler_output is that token),
 * else pooler_output, else CLS.
 */
import { Tensor } from 'onnxruntime-node';
import type { ModelConfig } from '../config.ts';
import { badRequest } from '../errors.ts';
import { compareEmbeddings } from './feature-extraction.ts';
import { IMAGE_CONTENT_TYPES } from './hf-folder.ts';
import { imageInput } from './image-classification.ts';
import { capturedImages, imageTensor, outputSize, type ImageSpec } from './images.ts';
import { parseItems, v2Answer, type ItemsRequest } from './task-inputs.ts';
import type { TaskContext, TaskFolder, TaskModule } from './task.ts';

export type ImagePooling = 'cls' | 'mean' | 'pooler';
const POOLINGS: readonly ImagePooling[] = ['cls', 'mean', 'pooler'];

export interface ImageEmbedder {
  readonly config: ModelConfig;
  readonly input: string;
  readonly image: ImageSpec;
  /** last_hidden_state, when the export has it. */
  readonly hidden?: string;
  /** image_embeds (projected) or pooler_output, when the export has one. */
  readonly pooled?: string;
  readonly pooling: ImagePooling;
  readonly normalize: boolean;
  /** The ViT patch size, for telling patch tokens from CLS and register tokens. */
  readonly patchSize?: number;
  /** A one-file CLIP or SigLIP: the text inputs its graph requires, fed a placeholder. */
  readonly placeholderText?: Readonly<Record<string, Tensor>>;
}

/** Architectures whose embedding is the CLS token by default (their pooler, where there is one, is an untrained or classification head). */
const CLS_ARCHITECTURES = new Set(['ViTModel', 'Dinov2Model', 'Dinov2WithRegistersModel', 'DeiTModel', 'BeitModel', 'ViTMSNModel', 'Data2VecVisionModel']);
/**
 * Architectures (config.json `architectures`) of image encoders, for synth, where no session is
 * opened: the API gives such a model an OpenAI-compatible base URL for image items on /v1/embeddings.
 */
export const IMAGE_EMBEDDING_ARCHITECTURE = /^(ViT|Dinov2|Dinov2WithRegisters|DeiT|Beit|ViTMSN|Data2VecVision)Model$|VisionModel(WithProjection)?$/;
/** Text-and-image models: zero-shot-image-classification's unless config.json asks for image-feature-extraction. */
export const DUAL_ENCODER = /^(CLIP|Siglip|Siglip2|ChineseCLIP|AltCLIP)Model$/;

const outputNames = (folder: TaskFolder): string[] => folder.signature.outputs.map((o) => o.name);

/** Whether a folder is an image encoder: pixel_values in, no text in, an embedding output, and no task head. */
function isImageEmbedder(folder: TaskFolder): boolean {
  const inputs = folder.signature.inputs.map((i) => i.name);
  if (!inputs.includes('pixel_values') || inputs.includes('input_ids') || folder.files.has('text_model.onnx')) return false;
  if (folder.architecture.includes('For') || DUAL_ENCODER.test(folder.architecture)) return false;
  return outputNames(folder).some((o) => ['image_embeds', 'pooler_output', 'last_hidden_state'].includes(o));
}

const number = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);

function loadImageEmbedder(folder: TaskFolder): ImageEmbedder {
  const outputs = outputNames(folder);
  const hidden = folder.config.outputName ?? (outputs.includes('last_hidden_state') ? 'last_hidden_state' : undefined);
  const pooled = ['image_embeds', 'pooler_output'].find((o) => outputs.includes(o));
  if (hidden === undefined && pooled === undefined) throw new Error(`${folder.where}: an image-feature-extraction model needs last_hidden_state, pooler_output or image_embeds among its outputs; it has ${outputs.join(', ')} (name the token output in config.json "outputName")`);
  if (hidden !== undefined && !outputs.includes(hidden)) throw new Error(`${folder.where}: config.json "outputName" is "${hidden}", not one of the model's outputs (${outputs.join(', ')})`);
  // config.json's pooling is the text tasks' enum too: "cls" and "mean" apply here; "pooler" is the default where the export has one, or a request's parameter.
  const configured = folder.config.pooling as string | undefined;
  if (configured !== undefined && !(POOLINGS as readonly string[]).includes(configured)) throw new Error(`${folder.where}: config.json "pooling" is "${configured}"; image embeddings pool by "cls", "mean" or "pooler"`);
  const pooling = (configured as ImagePooling | undefined) ?? (pooled === 'image_embeds' ? 'pooler' : CLS_ARCHITECTURES.has(folder.architecture) && hidden !== undefined ? 'cls' : pooled !== undefined ? 'pooler' : 'cls');
  if (pooling === 'pooler' && pooled === undefined) throw new Error(`${folder.where}: config.json "pooling" is "pooler", but the model has no pooler_output or image_embeds output (it has ${outputs.join(', ')})`);
  if (pooling !== 'pooler' && hidden === undefined) throw new Error(`${folder.where}: "${pooling}" pooling needs the token output last_hidden_state, which the model lacks (it has ${outputs.join(', ')}); use "pooler"`);
  const vision = (folder.hf?.vision_config as Record<string, unknown> | undefined) ?? folder.hf;
  // A one-file dual encoder's graph needs text too; one token (id 0, in every vocabulary) is enough.
  const inputs = folder.signature.inputs.map((i) => i.name);
  const placeholderText = inputs.includes('input_ids')
    ? Object.fromEntries(inputs.filter((name) => name === 'input_ids' || name === 'attention_mask').map((name) => [name, new Tensor('int64', BigInt64Array.from([name === 'input_ids' ? 0n : 1n]), [1, 1])]))
    : undefined;
  return { config: folder.config, ...imageInput(folder), hidden, pooled, pooling, normalize: folder.config.normalize ?? false, patchSize: number(vision?.patch_size), placeholderText };
}

export interface EmbedOptions {
  readonly pooling?: ImagePooling;
  readonly normalize?: boolean;
}

/** A request's pooling and normalize parameters (pipeline's `pool: true` is "pooler"); 400 naming a bad one. */
export function embedOptions(parameters: Readonly<Record<string, unknown>>): EmbedOptions {
  const { pooling, pool, normalize } = parameters;
  if (pooling !== undefined && !(POOLINGS as readonly unknown[]).includes(pooling)) throw badRequest(`"parameters.pooling" must be "cls", "mean" or "pooler", got ${JSON.stringify(pooling)}`);
  if (pool !== undefined && typeof pool !== 'boolean') throw badRequest(`"parameters.pool" must be true or false, got ${JSON.stringify(pool)}`);
  if (normalize !== undefined && typeof normalize !== 'boolean') throw badRequest(`"parameters.normalize" must be true or false, got ${JSON.stringify(normalize)}`);
  return { pooling: (pooling as ImagePooling | undefined) ?? (pool === true ? 'pooler' : undefined), normalize: normalize as boolean | undefined };
}

/** Euclidean norm. */
const norm = (v: ArrayLike<number>): number => {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  return Math.sqrt(sum);
};

/**
 * One embedding per image (the model run once on the batch), and each one's norm before any
 * normalization (a drift signal). Also what /v1/embeddings calls for image items.
 */
export async function embedImages(loaded: ImageEmbedder, items: readonly Uint8Array[], context: TaskContext, options: EmbedOptions = {}, single = false): Promise<{ embeddings: number[][]; norms: number[]; pixels: Tensor }> {
  const pooling = options.pooling ?? loaded.pooling;
  const normalize = options.normalize ?? loaded.normalize;
  const output = pooling === 'pooler' ? loaded.pooled : loaded.hidden;
  if (output === undefined) throw badRequest(pooling === 'pooler' ? 'this model has no pooled output (pooler_output or image_embeds); use "pooling": "cls" or "mean"' : `"${pooling}" pooling needs the model's token output (last_hidden_state), which this export lacks; use "pooling": "pooler"`);
  const pixels = await imageTensor(loaded.image, items, single);
  context.mark('parsed');
  const result = (await context.run({ [loaded.input]: pixels, ...loaded.placeholderText }, [output]))[output];
  context.mark('ran');
  const data = result.data as Float32Array;
  const n = items.length;
  const vectors: Float32Array[] = [];
  if (result.dims.length === 2) {
    const dims = result.dims[1];
    for (let i = 0; i < n; i++) vectors.push(data.slice(i * dims, (i + 1) * dims));
  } else {
    const [, tokens, dims] = result.dims;
    const { width, height } = outputSize(loaded.image);
    // CLS and register tokens come before the patches; without a known patch size, one CLS token.
    const patches = loaded.patchSize === undefined ? tokens - 1 : Math.floor(height / loaded.patchSize) * Math.floor(width / loaded.patchSize);
    const prefix = Math.max(0, tokens - patches);
    if (pooling === 'cls' && prefix === 0) throw badRequest('this model has no CLS token (every token is a patch); use "pooling": "mean" or "pooler"');
    for (let i = 0; i < n; i++) {
      const base = i * tokens * dims;
      if (pooling === 'cls') {
        vectors.push(data.slice(base, base + dims));
        continue;
      }
      const mean = new Float32Array(dims);
      for (let t = prefix; t < tokens; t++) for (let d = 0; d < dims; d++) mean[d] += data[base + t * dims + d];
      for (let d = 0; d < dims; d++) mean[d] /= tokens - prefix;
      vectors.push(mean);
    }
  }
  const norms = vectors.map(norm);
  const embeddings = vectors.map((v, i) => Array.from(v, (x) => (normalize && norms[i] > 1e-12 ? Math.fround(x / norms[i]) : x)));
  return { embeddings, norms, pixels };
}

const PARAMETERS = ['pooling', 'pool', 'normalize'] as const;

/** The vectors of an answer in any of its shapes: one image's [[…]], a batch's [[[…]], …], or a bare vector. */
function vectorsOf(answer: unknown): unknown[] | undefined {
  if (!Array.isArray(answer) || answer.length === 0) return undefined;
  if (answer.every((v) => typeof v === 'number')) return [answer];
  if (answer.every((v) => Array.isArray(v) && v.every((x) => typeof x === 'number'))) return answer;
  const nested = answer.map(vectorsOf);
  return nested.every((v) => v !== undefined) ? nested.flat() : undefined;
}

/** The gate's check: every image's embedding by cosine with the expected one (≥ 1 − tolerance). */
export function compareImageEmbeddings(expected: unknown, actual: unknown, tolerance: number): string | undefined {
  const [e, a] = [vectorsOf(expected), vectorsOf(actual)];
  if (e === undefined || a === undefined) return `expected embeddings ([[…]] per image), got ${JSON.stringify(actual)?.slice(0, 80)}`;
  if (e.length !== a.length) return `${a.length} embeddings answered, ${e.length} expected`;
  for (let i = 0; i < e.length; i++) {
    const problem = compareEmbeddings(e[i], a[i], tolerance);
    if (problem !== undefined) return e.length === 1 ? problem : `image ${i}: ${problem}`;
  }
  return undefined;
}

/** A small PNG (16×16, a colour gradient) for the example request: the console's and the printed curl line's. */
export const EXAMPLE_PNG_BASE64 =
  'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAACXBIWXMAAAPoAAAD6AG1e1JrAAABlklEQVQozxXRURVEIQhFUSMYgQhGMAIRiGCEE8EIRiACEYhABCLMG7/ZrMt1jMEcyGAN9kAHNjgDBnfwBj6IQQ5q0IMxJnMikzXZE53Y5EyY3Mmb+CQmOalJzw8IUxBhCVtQwYQjIFzhCS6EkEIJLR9YzIUs1mIvdGGLs2BxF2/hi1jkoha9PrCZG9mszd7oxjZnw+Zu3sY3sclNbXp/QJmKKEvZiiqmHAXlKk9xJZRUSmn9gDENMZaxDTXMOAbGNZ7hRhhplNH2gcM8yGEd9kEPdjgHDvfwDn6IQx7q0OcD/wK/Sr4jv9hfkG/1N/x/Fx44BCQU9Pc94zIvclmXfdGLXc79j9/Lu/glLnmpS98PPOZDHuuxH/qwx3n/5ffxHv6IRz7q0e8DznTEWc521DHn+D/KdZ7jTjjplNP+gWAGEqxgBxpYcOIf/AYv8CCCDCro+EAyE0lWshNNLDn5P/MmL/Ekkkwq6fxAMQspVrELLaw49S/lFq/wIoosquj6QDMbaVazG22sOf2v8Dav8SaabKrp5geIAnAQ3qbGcgAAAABJRU5ErkJggg==';

export const imageFeatureExtraction: TaskModule<ImageEmbedder, ItemsRequest<Uint8Array>> = {
  name: 'image-feature-extraction',
  sideFiles: ['config.json', 'preprocessor_config.json'],
  signals: [{ name: 'embedding norm', kind: 'numeric' }],
  detect: isImageEmbedder,
  load: loadImageEmbedder,
  contentTypes: () => IMAGE_CONTENT_TYPES,
  parse: (loaded, input) => {
    const request = parseItems(input, 'images', { task: 'image-feature-extraction', parameters: PARAMETERS, maxBatchSize: loaded.config.maxBatchSize });
    if (request !== undefined) embedOptions(request.parameters);
    return request;
  },
  async run(loaded, request, context) {
    const { embeddings, norms, pixels } = await embedImages(loaded, request.items, context, embedOptions(request.parameters), request.single);
    const n = embeddings.length;
    // Per image, the pipeline's answer for a pooled output: [[...]] (a [1, dims] tensor as a list).
    const perImage = embeddings.map((e) => [e]);
    const answer = request.v2 !== undefined ? v2Answer(context.model, request.v2, [{ name: 'embedding', datatype: 'FP32', shape: [n, embeddings[0]?.length ?? 0], data: embeddings.flat() }]) : request.predict ? { predictions: perImage } : request.single ? perImage[0] : perImage;
    return { answer, items: n, captured: () => capturedImages(request.items, loaded.config, { name: loaded.input, tensor: pixels }), signals: norms.map((v) => [v]) };
  },
  describe: (loaded) => ({ input_size: outputSize(loaded.image), pooling: loaded.pooling, normalize: loaded.normalize, poolings: POOLINGS.filter((p) => (p === 'pooler' ? loaded.pooled : loaded.hidden) !== undefined), output: loaded.pooling === 'pooler' ? loaded.pooled : loaded.hidden }),
  compare: compareImageEmbeddings,
  example: (loaded) => ({ inputs: EXAMPLE_PNG_BASE64, parameters: { pooling: loaded.pooling, normalize: true } }),
};
