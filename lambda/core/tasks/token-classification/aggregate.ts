/**
 * Tokens' scores into entities, as transformers' TokenClassificationPipeline does it
 * (src/transformers/pipelines/token_classification.py, 5.23.0): `gather_pre_entities`,
 * `aggregate`, `aggregate_word(s)`, `group_sub_entities`, `get_tag`, `group_entities` and
 * `aggregate_overlapping_entities`, function for function. Tags: B-X opens an entity, I-X (or a
 * label with no B-/I- prefix) continues one of the same X. E-/S- (BIOES) have no meaning of their
 * own there: they are read as labels without a prefix, as the pipeline reads them.
 */

export const AGGREGATION_STRATEGIES = ['none', 'simple', 'first', 'average', 'max'] as const;
export type AggregationStrategy = (typeof AGGREGATION_STRATEGIES)[number];

/** One token of one window: its probabilities over the labels and where it is in the text. */
export interface PreEntity {
  readonly word: string;
  readonly scores: Float64Array;
  /** Offsets in the original text, UTF-16 code units. */
  readonly start: number;
  readonly end: number;
  readonly index: number;
  readonly isSubword: boolean;
}

/** A token (strategy none) or a word's entity before grouping. */
export interface TokenEntity {
  readonly entity: string;
  readonly score: number;
  readonly index?: number;
  readonly word: string;
  readonly start: number;
  readonly end: number;
}

export interface GroupedEntity {
  readonly entity_group: string;
  readonly score: number;
  readonly word: string;
  readonly start: number;
  readonly end: number;
}

export type Entity = TokenEntity | GroupedEntity;

/** What aggregation needs of the tokenizer and the model. */
export interface Vocabulary {
  readonly labels: readonly string[];
  /** transformers' convert_tokens_to_string. */
  tokensToString(tokens: readonly string[]): string;
}

/** numpy's argmax: the first index of the largest value. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

const maxOf = (values: ArrayLike<number>): number => values[argmax(values)];

/** Softmax of each row of `logits` ([tokens, labels] from `offset`), in float64 from the model's float32. */
export function softmaxRows(logits: Float32Array, offset: number, tokens: number, labels: number): Float64Array[] {
  const rows: Float64Array[] = [];
  for (let t = 0; t < tokens; t++) {
    const base = offset + t * labels;
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < labels; j++) max = Math.max(max, logits[base + j]);
    const row = new Float64Array(labels);
    let sum = 0;
    for (let j = 0; j < labels; j++) sum += row[j] = Math.exp(logits[base + j] - max);
    for (let j = 0; j < labels; j++) row[j] /= sum;
    rows.push(row);
  }
  return rows;
}

/** `aggregate`: each token labelled (none, simple) or words labelled (first, average, max), then grouped unless none. */
export function aggregate(preEntities: readonly PreEntity[], strategy: AggregationStrategy, vocabulary: Vocabulary): Entity[] {
  let entities: TokenEntity[];
  if (strategy === 'none' || strategy === 'simple') {
    entities = preEntities.map((pre) => {
      const best = argmax(pre.scores);
      return { entity: vocabulary.labels[best], score: pre.scores[best], index: pre.index, word: pre.word, start: pre.start, end: pre.end };
    });
  } else {
    entities = aggregateWords(preEntities, strategy, vocabulary);
  }
  return strategy === 'none' ? entities : groupEntities(entities, vocabulary);
}

function aggregateWord(entities: readonly PreEntity[], strategy: 'first' | 'average' | 'max', vocabulary: Vocabulary): TokenEntity {
  const word = vocabulary.tokensToString(entities.map((e) => e.word));
  let scores: ArrayLike<number>;
  if (strategy === 'first') scores = entities[0].scores;
  else if (strategy === 'max') {
    // Python's max(): the first entity whose best score is the largest.
    let best = entities[0];
    for (const e of entities) if (maxOf(e.scores) > maxOf(best.scores)) best = e;
    scores = best.scores;
  } else {
    const mean = new Float64Array(entities[0].scores.length);
    for (const e of entities) e.scores.forEach((s, j) => (mean[j] += s));
    mean.forEach((s, j) => (mean[j] = s / entities.length));
    scores = mean;
  }
  const best = argmax(scores);
  return { entity: vocabulary.labels[best], score: scores[best], word, start: entities[0].start, end: entities[entities.length - 1].end };
}

/** `aggregate_words`: a token that is a subword joins the word before it; each word gets one label. */
function aggregateWords(entities: readonly PreEntity[], strategy: 'first' | 'average' | 'max', vocabulary: Vocabulary): TokenEntity[] {
  const words: TokenEntity[] = [];
  let group: PreEntity[] | undefined;
  for (const entity of entities) {
    if (group === undefined) group = [entity];
    else if (entity.isSubword) group.push(entity);
    else {
      words.push(aggregateWord(group, strategy, vocabulary));
      group = [entity];
    }
  }
  if (group !== undefined) words.push(aggregateWord(group, strategy, vocabulary));
  return words;
}

/** `get_tag`: B- and I- prefixes; anything else continues ("I") an entity of its whole name. */
function getTag(name: string): ['B' | 'I', string] {
  if (name.startsWith('B-')) return ['B', name.slice(2)];
  if (name.startsWith('I-')) return ['I', name.slice(2)];
  return ['I', name];
}

/** `group_sub_entities`: the group's type is the first entity's name after its first "-". */
function groupSubEntities(entities: readonly TokenEntity[], vocabulary: Vocabulary): GroupedEntity {
  const name = entities[0].entity;
  const dash = name.indexOf('-');
  const score = entities.reduce((sum, e) => sum + e.score, 0) / entities.length;
  return { entity_group: dash < 0 ? name : name.slice(dash + 1), score, word: vocabulary.tokensToString(entities.map((e) => e.word)), start: entities[0].start, end: entities[entities.length - 1].end };
}

/** `group_entities`: adjacent entities of the same type join unless the next one begins (B-). */
function groupEntities(entities: readonly TokenEntity[], vocabulary: Vocabulary): GroupedEntity[] {
  const groups: GroupedEntity[] = [];
  let open: TokenEntity[] = [];
  for (const entity of entities) {
    if (open.length === 0) {
      open.push(entity);
      continue;
    }
    const [bi, tag] = getTag(entity.entity);
    const [, lastTag] = getTag(open[open.length - 1].entity);
    if (tag === lastTag && bi !== 'B') open.push(entity);
    else {
      groups.push(groupSubEntities(open, vocabulary));
      open = [entity];
    }
  }
  if (open.length > 0) groups.push(groupSubEntities(open, vocabulary));
  return groups;
}

/** `aggregate_overlapping_entities`: of entities that overlap (windows' shared tokens), the longer, then the higher score, stays. */
export function aggregateOverlapping<E extends Entity>(entities: readonly E[]): E[] {
  if (entities.length === 0) return [];
  const sorted = [...entities].sort((a, b) => a.start - b.start); // stable, as Python's sorted
  const kept: E[] = [];
  let previous = sorted[0];
  for (const entity of sorted) {
    if (previous.start <= entity.start && entity.start < previous.end) {
      const length = entity.end - entity.start;
      const previousLength = previous.end - previous.start;
      if (length > previousLength || (length === previousLength && entity.score > previous.score)) previous = entity;
    } else {
      kept.push(previous);
      previous = entity;
    }
  }
  kept.push(previous);
  return kept;
}

/** The name an entity is filtered and counted by: `entity_group`, or `entity` for single tokens. */
export const entityLabel = (entity: Entity): string => ('entity_group' in entity ? entity.entity_group : entity.entity);
