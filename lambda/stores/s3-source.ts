import { GetObjectCommand, NoSuchKey, S3Client, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { assertRelativePath, type ModelSource } from '../core/model-source.ts';

export interface S3SourceOptions {
  readonly bucket: string;
  /** Key prefix of the repository root, e.g. `models/`. @default '' (bucket root) */
  readonly prefix?: string;
  /** A configured client (endpoint, credentials, retries). @default a client from the environment */
  readonly client?: S3Client;
}

/** A model repository in S3 or any S3-compatible store, same layout under a prefix. */
export class S3Source implements ModelSource {
  readonly location: string;
  private readonly bucket: string;
  private readonly prefix: string;
  private client: S3Client;

  constructor(options: S3SourceOptions) {
    this.bucket = options.bucket;
    const prefix = options.prefix ?? '';
    this.prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    this.client = options.client ?? new S3Client({});
    this.location = `s3://${this.bucket}/${this.prefix}`;
  }

  /** The client in use. */
  get s3Client(): S3Client {
    return this.client;
  }

  /**
   * Uses a new client from now on and closes the old one's connections: after a SnapStart restore,
   * sockets opened before the snapshot are dead, and shared by every restored environment.
   */
  replaceClient(client: S3Client): void {
    const old = this.client;
    this.client = client;
    old.destroy();
  }

  async listFiles(under = ''): Promise<string[]> {
    if (under !== '') assertRelativePath(under.replace(/\/$/, ''));
    const keys: string[] = [];
    for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: this.bucket, Prefix: this.prefix + under })) {
      for (const object of page.Contents ?? []) {
        if (object.Key !== undefined && !object.Key.endsWith('/')) keys.push(object.Key.slice(this.prefix.length));
      }
    }
    return keys;
  }

  async readFile(path: string): Promise<Uint8Array | undefined> {
    assertRelativePath(path);
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + path }));
      return await response.Body!.transformToByteArray();
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') return undefined;
      throw error;
    }
  }
}
