/**
 * text-classification (transformers' pipelines/text_classification.py): texts (raw text/plain,
 * {"inputs"}, :predict instances, v2 BYTES) tokenized, one run for the batch, [{label, score}] best
 * first; every label by default (config.json topK, or the request's top_k, cuts it).
 */
import type { ModelConfig } from '../config.ts';
import { CLASS_SIGNALS, CLASSIFIER_PARAMETERS, classifierHead, classify, compareClasses, describeClassifier, type ClassifierHead } from './class-scores.ts';
import { TEXT_CONTENT_TYPES } from './hf-folder.ts';
import { parseItems, type ItemsRequest } from './task-inputs.ts';
import type { TaskModule } from './task.ts';
import { textFeeds, textInputs, type TextInputs } from './texts.ts';

interface TextClassifier extends ClassifierHead {
  readonly config: ModelConfig;
  readonly text: TextInputs;
}

export const textClassification: TaskModule<TextClassifier, ItemsRequest<string>> = {
  name: 'text-classification',
  sideFiles: ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'index_to_name.json'],
  signals: [...CLASS_SIGNALS, { name: 'text length', kind: 'numeric' }],
  detect: (folder) => folder.architecture.endsWith('ForSequenceClassification'),
  load: (folder) => ({ ...classifierHead(folder, (labels) => labels?.length ?? 5), text: textInputs(folder, 'text-classification'), config: folder.config }),
  contentTypes: () => TEXT_CONTENT_TYPES,
  parse: (loaded, input) => parseItems(input, 'texts', { task: 'text-classification', parameters: CLASSIFIER_PARAMETERS, maxBatchSize: loaded.config.maxBatchSize }),
  async run(loaded, request, context) {
    const { feeds, headers } = textFeeds(loaded.text, request.items);
    const { ranked, ...result } = await classify(loaded, request, feeds, context);
    return { ...result, headers, captured: { texts: request.items }, signals: ranked.map((r, i) => [r[0].index, r[0].score, request.items[i].length]) };
  },
  describe: (loaded) => ({ ...describeClassifier(loaded), max_length: loaded.text.encoder.maxLength }),
  compare: compareClasses,
  example: () => ({ inputs: 'an example text' }),
};
