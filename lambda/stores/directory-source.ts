import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { assertRelativePath, type ModelSource } from '../core/model-source.ts';

/** A model repository in a local directory (the repo's ./models, or /opt/ml/model in a container). */
export class DirectorySource implements ModelSource {
  readonly location: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.location = `directory ${root}`;
  }

  async listFiles(under = ''): Promise<string[]> {
    if (under !== '') assertRelativePath(under.replace(/\/$/, ''));
    let entries;
    try {
      entries = await readdir(join(this.root, under), { recursive: true, withFileTypes: true });
    } catch (error) {
      // A missing model directory is an empty listing; a missing root is the store being unreachable.
      if (under !== '' && (error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
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
