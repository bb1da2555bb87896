/**
 * Where model files live. Every source exposes the same Triton-style layout,
 * `<name>/config.json` and `<name>/<version>/model.onnx`, as paths relative to its root.
 */
export interface ModelSource {
  /** Human-readable location for messages and logs, e.g. `directory ./models` or `s3://bucket/prefix/`. */
  readonly location: string;
  /**
   * Every file path under the root (or under `under`, a sub-path ending in '/'), relative to the
   * root, with `/` separators. Listing one model's sub-path lets a function that may read only that
   * model's prefix list it.
   */
  listFiles(under?: string): Promise<string[]>;
  /** A file's bytes, or undefined when it does not exist. Throws when the store itself fails. */
  readFile(path: string): Promise<Uint8Array | undefined>;
}

/** Paths from a source are relative and never climb out of its root. */
export function assertRelativePath(path: string): void {
  if (path.startsWith('/') || path.split('/').some((part) => part === '..' || part === '')) {
    throw new Error(`invalid model repository path "${path}"`);
  }
}
