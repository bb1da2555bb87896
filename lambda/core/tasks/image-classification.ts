/**
 * image-classification (transformers' pipelines/image_classification.py): an image (raw, base64 in
 * JSON, :predict {"b64"}, or v2 BYTES) decoded and preprocessed as preprocessor_config.json says,
 * one run for the batch, [{label, score}] best first (top_k 5 by default, as the pipeline).
 */
import { IMAGE_CONTENT_TYPES, inputOf } from './hf-folder.ts';
import { capturedImages, imageSpec, imageTensor, outputSize, type ImageSpec } from './images.ts';
import { CLASS_SIGNALS, CLASSIFIER_PARAMETERS, classifierHead, classify, compareClasses, describeClassifier, type ClassifierHead } from './class-scores.ts';
import { parseItems, type ItemsRequest } from './task-inputs.ts';
import type { TaskFolder, TaskModule } from './task.ts';
import type { ModelConfig } from '../config.ts';

interface ImageClassifier extends ClassifierHead {
  readonly config: ModelConfig;
  readonly image: ImageSpec;
  readonly input: string;
}

/** The image input of a vision model: config.json inputNames.image, else pixel_values, else its only input. */
export function imageInput(folder: TaskFolder): { input: string; image: ImageSpec } {
  const inputs = folder.signature.inputs;
  const only = inputs.length === 1 ? inputs[0].name : undefined;
  const input = folder.config.inputNames?.image ?? inputOf(folder, undefined, ['pixel_values', ...(only === undefined ? [] : [only])], 'image', false);
  const spec = input === undefined ? undefined : inputs.find((i) => i.name === input);
  if (input === undefined || spec === undefined) throw new Error(`${folder.where}: which input takes the image? The model has ${inputs.map((i) => i.name).join(', ')}; name it in config.json "inputNames": {"image": ...}`);
  return { input, image: imageSpec(folder.json('preprocessor_config.json'), folder.config, spec.shape, `${folder.where}/preprocessor_config.json`) };
}

export const imageClassification: TaskModule<ImageClassifier, ItemsRequest<Uint8Array>> = {
  name: 'image-classification',
  sideFiles: ['config.json', 'preprocessor_config.json', 'index_to_name.json'],
  signals: CLASS_SIGNALS,
  detect: (folder) => folder.architecture.endsWith('ForImageClassification'),
  load: (folder) => ({ ...classifierHead(folder, (labels) => Math.min(5, labels?.length ?? 5)), ...imageInput(folder), config: folder.config }),
  contentTypes: () => IMAGE_CONTENT_TYPES,
  parse: (loaded, input) => parseItems(input, 'images', { task: 'image-classification', parameters: CLASSIFIER_PARAMETERS, maxBatchSize: loaded.config.maxBatchSize }),
  async run(loaded, request, context) {
    const pixels = await imageTensor(loaded.image, request.items, request.single);
    const { ranked, ...result } = await classify(loaded, request, { [loaded.input]: pixels }, context);
    return { ...result, captured: () => capturedImages(request.items, loaded.config, { name: loaded.input, tensor: pixels }), signals: ranked.map((r) => [r[0].index, r[0].score]) };
  },
  describe: (loaded) => ({ ...describeClassifier(loaded), input_size: outputSize(loaded.image) }),
  compare: compareClasses,
  example: () => undefined,
};
