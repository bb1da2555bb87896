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
  /** Requests answered, per Model ("(none)" when the request named no model that exists). */
  requests: 'Requests',
  /** Request body bytes as received, per Model (Sum, Average, Maximum). */
  requestBytes: 'RequestBytes',
  /** Response body bytes, per Model. */
  responseBytes: 'ResponseBytes',
  /** 4xx answers, per Model and Reason (invalid_json, wrong_shape, body_too_large, ...). */
  badRequests: 'BadRequests',
  /** 5xx answers, per Model and Reason (model_unavailable, timeout, internal). */
  serverErrors: 'ServerErrors',
  /** Requests sampled and written to data capture, per Model and Version. */
  capturedRecords: 'CapturedRecords',
  /** Sampled requests not captured because the record was over capture.maxRecordBytes, per Model and Version. */
  captureSkipped: 'CaptureSkipped',
  /** Population stability index of one input feature over the drift window, per Model, Version and Feature. */
  driftPsi: 'DriftPSI',
  /** Kolmogorov-Smirnov statistic of one numeric input feature, per Model, Version and Feature. */
  driftKs: 'DriftKS',
  /** The largest PSI of any feature and version of a model in the window, per Model: the drift alarm's metric. */
  driftPsiMax: 'DriftPSIMax',
  /** Captured rows the drift job compared, per Model and Version. */
  driftRows: 'DriftRows',
  /** Rows in each dynamically batched run, per Model and Version (a distribution: Average, p50, Maximum). */
  batchSize: 'BatchSize',
  /** Microseconds the oldest request of a batched run waited in its queue (including for a free instance), per Model and Version. */
  queueDelay: 'QueueDelay',
  /** Batched runs (one per session.run of the batcher), per Model and Version. */
  batchesRun: 'BatchesRun',
} as const;

/** Dimensions of every per-model metric: Powertools adds `service`; we add `Model`. */
export function modelDimensions(model: string): Record<string, string> {
  return { service: METRICS_SERVICE, Model: model };
}

/** Dimensions of per-version metrics (feedback, shadow agreement). */
export function versionDimensions(model: string, version: number | string): Record<string, string> {
  return { service: METRICS_SERVICE, Model: model, Version: String(version) };
}

/** The Model dimension of requests that named no model that exists. */
export const NO_MODEL = '(none)';
