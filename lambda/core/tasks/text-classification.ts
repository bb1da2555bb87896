/**
 * text-classification (transformers' pipelines/text_classification.py): texts (raw text/plain,
 * {"inputs"}, :predict instances, v2 BYTES) or text pairs ({"text", "text_pair"}, or a list of
 * them) tokenized, one run for the batch, [{label, score}] best first; every label by default
 * (config.json topK, or the request's top_k, cuts it). A one-label model (a cross-encoder) answers
 * the sigmoid of its logit as the pipeline does, or what its sentence-transformers files name.
 */
import type { ModelConfig } from '../config.ts';
import { badRequest } from '../errors.ts';
import { CLASS_SIGNALS, CLASSIFIER_PARAMETERS, classifierHead, classify, compareClasses, describeClassifier, type ClassifierHead } from './class-scores.ts';
import { TEXT_CONTENT_TYPES, TOKENIZER_FILES } from './hf-folder.ts';
import { checkParameters, parseItems, type ItemsRequest } from './task-inputs.ts';
import type { TaskFolder, TaskModule } from './task.ts';
import { CROSS_ENCODER_FILES, crossEncoderActivation, pairFeeds, parsePairs } from './text-pairs.ts';
import { textFeeds, textInputs, type TextInputs, type TextPair } from './texts.ts';

interface TextClassifier extends ClassifierHead {
  readonly config: ModelConfig;
  readonly text: TextInputs;
}

/** Texts, or text pairs (`pairs` set). */
type TextRequest = ItemsRequest<string> | (ItemsRequest<TextPair> & { readonly pairs: true });

/**
 * The classifier head, with the pipeline's score function for one label (`postprocess`: sigmoid,
 * or none for a "regression" problem_type) unless config.json "functionToApply" or a
 * sentence-transformers CrossEncoder's activation_fn says otherwise.
 */
function textClassifierHead(folder: TaskFolder): ClassifierHead {
  const head = classifierHead(folder, (labels) => labels?.length ?? 5);
  if (head.labels?.length !== 1 || folder.config.functionToApply !== undefined) return head;
  return { ...head, functionToApply: crossEncoderActivation(folder) ?? (folder.hf?.problem_type === 'regression' ? 'none' : 'sigmoid') };
}

/** {"inputs": {"text", "text_pair"} | [...]} (or :predict's instances of them): a pair request, else undefined. */
function pairRequest(loaded: TextClassifier, input: Parameters<typeof parseItems>[0]): TextRequest | undefined {
  if (input.kind !== 'json') return undefined;
  const field = input.route === 'infer' ? '"inputs"' : '"instances"';
  const found = parsePairs(input.route === 'infer' ? input.body.inputs : input.body.instances, field);
  if (found === undefined) return undefined;
  const max = loaded.config.maxBatchSize;
  if (max !== undefined && found.pairs.length > max) throw badRequest(`${found.pairs.length} pairs in one request, over the model's maxBatchSize of ${max}`, 'batch_too_large');
  const parameters = checkParameters(input.body.parameters, { task: 'text-classification', parameters: CLASSIFIER_PARAMETERS });
  return { items: found.pairs, single: found.single, predict: input.route === 'predict', parameters, pairs: true };
}

const isPairRequest = (request: TextRequest): request is ItemsRequest<TextPair> & { pairs: true } => 'pairs' in request;

export const textClassification: TaskModule<TextClassifier, TextRequest> = {
  name: 'text-classification',
  sideFiles: [...TOKENIZER_FILES, 'index_to_name.json', ...CROSS_ENCODER_FILES],
  // For a pair, the text length is both texts'.
  signals: [...CLASS_SIGNALS, { name: 'text length', kind: 'numeric' }],
  detect: (folder) => folder.architecture.endsWith('ForSequenceClassification'),
  load: (folder) => ({ ...textClassifierHead(folder), text: textInputs(folder, 'text-classification'), config: folder.config }),
  contentTypes: () => TEXT_CONTENT_TYPES,
  parse: (loaded, input) => pairRequest(loaded, input) ?? parseItems(input, 'texts', { task: 'text-classification', parameters: CLASSIFIER_PARAMETERS, maxBatchSize: loaded.config.maxBatchSize }),
  async run(loaded, request, context) {
    // Pairs over the model's length lose tokens from the longer text first (truncation=True in the pipeline).
    const pairs = isPairRequest(request) ? request.items : undefined;
    const texts = pairs === undefined ? (request.items as readonly string[]) : undefined;
    const { feeds, headers } = pairs !== undefined ? pairFeeds(loaded.text, pairs, 'longest_first') : textFeeds(loaded.text, texts!);
    const { ranked, ...result } = await classify(loaded, request, feeds, context);
    const lengths = pairs?.map((p) => p.text.length + p.text_pair.length) ?? texts!.map((t) => t.length);
    return { ...result, headers, captured: pairs !== undefined ? { pairs } : { texts }, signals: ranked.map((r, i) => [r[0].index, r[0].score, lengths[i]]) };
  },
  describe: (loaded) => ({ ...describeClassifier(loaded), max_length: loaded.text.encoder.maxLength, ...(loaded.labels?.length === 1 ? { cross_encoder: true } : {}) }),
  compare: compareClasses,
  example: () => ({ inputs: 'an example text' }),
};
