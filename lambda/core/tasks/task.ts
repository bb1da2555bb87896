/**
 * One task a served model does (image classification, token classification, object detection, …),
 * split as transformers' pipelines split it (src/transformers/pipelines/base.py, `Pipeline.__call__`:
 * `_sanitize_parameters` → `preprocess` → `_forward` → `postprocess`): `parse` reads the request and
 * its parameters, `run` preprocesses, runs the session and postprocesses. Each task is one module in
 * this folder, registered by name in registry.ts; the core dispatches every task request through the
 * registry (one request path for every adapter), and batch, capture, drift, the golden gate, shadow
 * copies, metadata and the console read what a module declares here. Adding a task is one new file
 * and one line in the registry.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type { ModelConfig } from '../config.ts';
import type { Signature } from '../signature.ts';

/** A version folder as the loader read it, every file hash-checked, for `detect` and `load`. */
export interface TaskFolder {
  /** "store/name/version", for messages. */
  readonly where: string;
  /** ModelShip's config.json of the model. Its `task`, when set, decides the task (no `detect`). */
  readonly config: ModelConfig;
  /** The Hugging Face config.json (architectures, id2label, label2id, problem_type, …), if present. */
  readonly hf?: Readonly<Record<string, unknown>>;
  /** `hf.architectures[0]`, or '' when there is none. */
  readonly architecture: string;
  /** The side files present (every registered module's `sideFiles`), by path relative to the version folder. */
  readonly files: ReadonlyMap<string, Uint8Array>;
  /** A side file parsed as JSON; undefined when absent; throws naming the file when it is not JSON. */
  json(path: string): Record<string, unknown> | undefined;
  /** model.onnx's inputs and outputs. */
  readonly signature: Signature;
  /** model.onnx's metadata_props (Ultralytics writes names, imgsz, stride and task there), read on first call. */
  metadata(): Readonly<Record<string, string>>;
  /** Opens another ONNX side file of the folder (CLIP's text tower, say) as a session with the same options. */
  openSession(path: string): Promise<InferenceSession>;
}

/** What reaches a task: the body as sent, once the route, the version and the size limit are settled. */
export type TaskInput =
  /** A raw body with a content type the module takes (image/jpeg, text/plain, …). */
  | { readonly kind: 'raw'; readonly contentType: string; readonly body: Uint8Array }
  /**
   * A parsed JSON body: on `infer`, the Hugging Face task shape {"inputs", "parameters"} or a v2
   * request; on `predict`, TF Serving's {"instances": [...]}. Batch jobs, shadow runs and the golden
   * gate send the same shapes.
   */
  | { readonly kind: 'json'; readonly route: 'infer' | 'predict'; readonly body: Readonly<Record<string, unknown>> };

/** What the core lends a running task. */
export interface TaskContext {
  /** The model and version answering, for v2 answers' model_name and model_version. */
  readonly model: { readonly name: string; readonly version: number };
  /**
   * Runs the model's session (through the dynamic batcher where one is set); what onnxruntime
   * rejects is answered 400 naming the node. `outputs` defaults to all.
   */
  run(feeds: Record<string, Tensor>, outputs?: readonly string[]): Promise<Record<string, Tensor>>;
  /** Marks the end of a phase, for the latency breakdown in logs and metrics: 'parsed' after preprocessing, 'ran' after the last session run. */
  mark(phase: 'parsed' | 'ran'): void;
}

/** A finished task request. */
export interface TaskResult {
  /**
   * The answer as the route answers it, JSON-serializable: the Hugging Face pipeline's shape on
   * /infer with {"inputs"} (one input answered unwrapped where the pipeline does so), the core wraps
   * it in {"predictions": ...} on :predict; a v2 request is answered in v2 by the module.
   */
  readonly answer: unknown;
  /** Headers to add (X-Truncated-Inputs, …). */
  readonly headers?: Readonly<Record<string, string>>;
  /** How many inputs the request held (texts, images, pairs, questions). */
  readonly items: number;
  /** For metrics: how many inputs (or detections, or entities) got each label. */
  readonly classCounts?: Readonly<Record<string, number>>;
  /**
   * For data capture: the request's inputs as JSON (texts, base64 images, pairs); never tensors
   * unless config asks. A function is called only for an answer sampled for capture, so what costs
   * (image hashes, a pixel tensor in base64) is not made for the others.
   */
  readonly captured: unknown;
  /** For drift: one row per input, values in the order of the module's `signals`. */
  readonly signals: readonly (readonly number[])[];
}

/** A drift signal of a task, one value per input. */
export interface TaskSignal {
  readonly name: string;
  /** 'categorical' values are class indices (labels from `describe`'s labels); 'numeric' are measured. */
  readonly kind: 'numeric' | 'categorical';
}

export interface TaskModule<Loaded = unknown, Request = unknown> {
  /** The task's name, as config.json `task`, metadata and the console say it (Hugging Face's pipeline name). */
  readonly name: string;
  /** Files beyond model.onnx the task may read; the loader reads, hashes and pins those present. */
  readonly sideFiles: readonly string[];
  /** Drift signals, one value of each per input. */
  readonly signals: readonly TaskSignal[];
  /** Whether an export whose config.json names no task is this task's. Asked in registry order; the first yes wins. */
  detect(folder: TaskFolder): boolean;
  /** Everything the task needs, once, when the version loads; throws an Error naming the problem (the version is then unavailable with that message). */
  load(folder: TaskFolder): Loaded | Promise<Loaded>;
  /** Content types taken as a raw body; [] for JSON only. */
  contentTypes(loaded: Loaded): readonly string[];
  /**
   * The request in any shape the task takes, parameters checked; 400 (errors.ts badRequest) naming
   * the problem and the fix. Undefined when the body is not a task request at all (a v2 tensor
   * request), which the tensor path then answers.
   */
  parse(loaded: Loaded, input: TaskInput): Request | undefined;
  /** Preprocess, run, postprocess. */
  run(loaded: Loaded, request: Request, context: TaskContext): Promise<TaskResult>;
  /** For metadata and the console: labels, input size or max length, and whatever else a caller needs to form a request. */
  describe(loaded: Loaded): Readonly<Record<string, unknown>>;
  /**
   * The golden gate's check of one input's answer against its recorded expectation: undefined when
   * they agree (labels identical, spans equal, boxes by IoU, embeddings by cosine, scores within
   * `tolerance`), else what differs, in words.
   */
  compare(expected: unknown, actual: unknown, tolerance: number): string | undefined;
  /** An example request body for the console, the local server's printed curl line and the README. */
  example(loaded: Loaded): unknown;
}

/** A loaded version's task: its module and what the module loaded. */
export interface LoadedTask<Loaded = unknown> {
  readonly module: TaskModule<Loaded>;
  readonly loaded: Loaded;
}
