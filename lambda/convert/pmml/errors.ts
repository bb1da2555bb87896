/** A PMML document the converter cannot take: the message names the element or value and, where there is one, the fix. */
export class PmmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PmmlError';
  }
}
