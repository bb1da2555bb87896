/**
 * What every tree converter hands to the shared emitter: the ensemble, the head (task, link) and the
 * record's facts about the source. `emitConversion` builds the ONNX model and conversion.json from it.
 */
import { createHash } from 'node:crypto';
import { encodeModel } from './onnx/onnx-model.ts';
import { GraphBuilder, ONNX_ML_OPSET } from './onnx/graph.ts';
import { emitHead, linkName, type Head } from './links.ts';
import { emitTreeEnsemble, type TreeEnsemble } from './tree-ensemble.ts';
import { CONVERTER, type ConversionRecord, type FeatureRecord } from './record.ts';

export interface Conversion {
  readonly onnx: Uint8Array;
  readonly record: ConversionRecord;
}

export interface ModelDescription {
  readonly format: 'xgboost' | 'lightgbm' | 'pmml';
  readonly producer: string;
  readonly objective: string;
  readonly booster: string;
  readonly features: readonly FeatureRecord[];
  readonly ensemble: TreeEnsemble;
  readonly head: Head;
  /** Class names, classification only (default: "0", "1", …). */
  readonly classes?: readonly string[];
  /** How many trees the source holds (a linear booster: 0). */
  readonly trees: number;
  readonly inexact?: readonly string[];
  /** Replaces the tree ensemble, for models that are not trees (XGBoost gblinear): returns the margin. */
  readonly emitMargin?: (g: GraphBuilder, input: string) => string;
}

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export function emitConversion(fileName: string, bytes: Uint8Array, d: ModelDescription): Conversion {
  const g = new GraphBuilder();
  const t = d.ensemble.elementType;
  const margin = d.emitMargin !== undefined ? d.emitMargin(g, 'features') : emitTreeEnsemble(g, 'features', d.ensemble);
  const outputs = emitHead(g, margin, d.head, t, d.ensemble.targets);
  const classes = d.head.task === 'classification' ? (d.classes ?? Array.from({ length: d.head.classes }, (_, i) => String(i))) : undefined;
  const record: ConversionRecord = {
    format: d.format,
    source: { file: fileName, sha256: sha256(bytes), producer: d.producer },
    converter: CONVERTER,
    task: d.head.task,
    objective: d.objective,
    // A raw-margin classifier (binary:logitraw) predicts the margin itself; its probabilities are an extra.
    link: d.head.task === 'classification' && d.head.binary === true && d.head.margin === true ? 'identity' : linkName(d.head.link),
    inputType: t,
    features: d.features,
    ...(classes !== undefined ? { classes } : {}),
    targets: d.head.task === 'classification' ? 1 : d.ensemble.targets,
    trees: d.trees,
    outputs: outputs.record,
    inexact: d.inexact ?? [],
    booster: d.booster,
    onnxMlOpset: ONNX_ML_OPSET,
  };
  const model = g.model({ name: 'features', type: t, width: d.ensemble.features }, outputs.graph, { modelship_conversion: JSON.stringify({ format: d.format, objective: d.objective, source_sha256: record.source.sha256 }) }, CONVERTER);
  return { onnx: encodeModel(model), record };
}
