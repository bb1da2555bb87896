/**
 * The one error a conversion throws: a 4xx-style message that names the file, the problem and the fix
 * (contract: docs in /work/coord/CONVERSION-CONTRACT.md, "The converter API"). Serving shows it in the
 * catalog and answers the model's routes 503; `modelship convert` prints it as its one error line.
 */
export class ConversionError extends Error {
  /** The native file the problem is in, e.g. `model.json`. */
  readonly file: string;

  constructor(file: string, problem: string, options: { cause?: unknown } = {}) {
    super(`${file}: ${problem}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConversionError';
    this.file = file;
  }
}
