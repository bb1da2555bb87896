import { assertRelativePath, type ModelSource } from '../core/model-source.ts';

/**
 * A source whose root is one model's own directory (`config.json`, `<version>/model.onnx`), as
 * SageMaker places model data in /opt/ml/model, seen as a repository holding that one model.
 */
export class SingleModelSource implements ModelSource {
  readonly location: string;
  private readonly inner: ModelSource;
  private readonly name: string;

  constructor(inner: ModelSource, name: string) {
    this.inner = inner;
    this.name = name;
    this.location = `${inner.location} (model ${name})`;
  }

  async listFiles(under = ''): Promise<string[]> {
    if (under !== '' && under !== `${this.name}/`) return [];
    return (await this.inner.listFiles()).map((path) => `${this.name}/${path}`);
  }

  async readFile(path: string): Promise<Uint8Array | undefined> {
    assertRelativePath(path);
    if (!path.startsWith(`${this.name}/`)) return undefined;
    return this.inner.readFile(path.slice(this.name.length + 1));
  }
}
