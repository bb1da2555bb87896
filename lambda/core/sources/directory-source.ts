import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { assertRelativePath, type ModelSource } from '../model-source.ts';

/** A model repository in a local directory (the repo's ./models, or /opt/ml/model in a container). */
export class DirectorySource implements ModelSource {
  readonly location: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.location = `directory ${root}`;
  }

  async listFiles(): Promise<string[]> {
    const entries = await readdir(this.root, { recursive: true, withFileTypes: true });
    return entries
      .filter((entry) => entry.isFile())
      .map((entry) => relative(this.root, join(entry.parentPath, entry.name)).split(sep).join('/'));
  }

  async readFile(path: string): Promise<Uint8Array | undefined> {
    assertRelativePath(path);
    try {
      return await readFile(join(this.root, path));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }
}
