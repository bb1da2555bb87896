/**
 * conversion.json: what a conversion wrote and why, beside the model.onnx it describes
 * (CONVERSION-CONTRACT.md, "conversion.json"). Readers must accept fields they do not know.
 */
export const CONVERSION_RECORD_FILE = 'conversion.json';
/** Bumped when the same source would convert to a different model.onnx. */
export const CONVERTER = 'modelship-convert 1';

export type FeatureType = 'numeric' | 'integer' | 'boolean' | 'categorical';

export interface FeatureRecord {
  readonly name: string;
  readonly type: FeatureType;
  /** Categorical only: names in code order; the ONNX column carries the index. */
  readonly categories?: readonly string[];
  /** Categorical only: what to feed for a category not in `categories` (null: NaN, missing). */
  readonly unseen?: number | null;
}

export interface OutputRecord {
  readonly name: string;
  readonly datatype: 'INT64' | 'FP32' | 'FP64' | 'BYTES';
  readonly shape: readonly number[];
}

export interface ConversionRecord {
  readonly format: 'xgboost' | 'lightgbm' | 'pmml';
  readonly source: { readonly file: string; readonly sha256: string; readonly producer: string };
  readonly converter: string;
  readonly task: 'classification' | 'regression' | 'ranking' | 'scorecard';
  readonly objective: string;
  readonly link: string;
  readonly inputType: 'FP32' | 'FP64';
  readonly features: readonly FeatureRecord[];
  readonly classes?: readonly string[];
  readonly targets: number;
  readonly trees: number;
  readonly outputs: readonly OutputRecord[];
  readonly inexact: readonly string[];
  /** Extra, optional: the booster kind (gbtree, dart, gblinear, gbdt, rf, …) as the source names it. */
  readonly booster?: string;
  /** Extra, optional: the ONNX operator set the model uses (`ai.onnx.ml` version). */
  readonly onnxMlOpset?: number;
}
