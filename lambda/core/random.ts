/**
 * Uniform draws in [0, 1) from the operating system's CSPRNG (crypto.getRandomValues), buffered.
 * A SnapStart snapshot copies the process's memory into every environment restored from it: V8's
 * Math.random state, and any buffer of random bytes drawn before it, would give every environment
 * the same sequence ("Handling uniqueness with Lambda SnapStart",
 * https://docs.aws.amazon.com/lambda/latest/dg/snapstart-uniqueness.html: use a CSPRNG and draw
 * after restore). The after-restore hook replaces the source, dropping whatever was buffered.
 */
import { getRandomValues } from 'node:crypto';

const SIZE = 256;

export class RandomSource {
  private readonly buffer = new Uint32Array(SIZE);
  private used = SIZE;

  /** The next draw; bound, so it can be handed around as a plain function. */
  readonly draw = (): number => {
    if (this.used === SIZE) {
      getRandomValues(this.buffer);
      this.used = 0;
    }
    return this.buffer[this.used++] / 2 ** 32;
  };

  /** The draws already buffered, in order: what every copy of this process would draw next. */
  buffered(): number[] {
    return [...this.buffer.subarray(this.used)].map((v) => v / 2 ** 32);
  }
}
