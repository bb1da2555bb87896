/**
 * The metrics the runtime publishes (CloudWatch embedded metric format, through Powertools) and the
 * CDK app graphs and alarms on: one namespace, one set of names and dimensions, imported by both.
 */
export const METRICS_NAMESPACE = 'ModelShip';
export const METRICS_SERVICE = 'modelship';

export const MetricName = {
  /** Milliseconds in session.run for one request (Average, p50, p99). */
  inferenceTime: 'InferenceTime',
  /** Milliseconds to fetch a model and create its session. */
  modelLoadTime: 'ModelLoadTime',
  /** Count of model loads that failed (corrupt file, store unreachable). */
  modelLoadFailures: 'ModelLoadFailures',
  /** Rows scored (the batch dimension), summed. */
  predictions: 'Predictions',
  /** Feedback events received, per model and Version. */
  feedbackEvents: 'FeedbackEvents',
  /** Feedback events with a positive outcome (conversion, correct prediction), per model and Version. */
  feedbackPositive: 'FeedbackPositive',
  /** 1 when a shadow version agreed with live, 0 when not (Average = agreement rate), per model and shadow Version. */
  shadowAgreement: 'ShadowAgreement',
  /** Rows answered with each class, per Model, Version and Class (classifiers). */
  predictedClass: 'PredictedClass',
  /** Mean of the first output per request, per Model and Version (regressors). */
  predictionMean: 'PredictionMean',
  /** Milliseconds from process start to the handler being ready, once per cold start. */
  initDuration: 'InitDuration',
} as const;

/** Dimensions of every per-model metric: Powertools adds `service`; we add `Model`. */
export function modelDimensions(model: string): Record<string, string> {
  return { service: METRICS_SERVICE, Model: model };
}

/** Dimensions of per-version metrics (feedback, shadow agreement). */
export function versionDimensions(model: string, version: number | string): Record<string, string> {
  return { service: METRICS_SERVICE, Model: model, Version: String(version) };
}
