/** Where batch inputs and outputs live: the model store's bucket, or a local directory for the CLI. */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, HeadObjectCommand, NoSuchKey, NotFound, PutObjectCommand, S3Client, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

export interface BatchStore {
  readonly location: string;
  /** Where an object is, as a person would find it: its s3:// URL or its file path. */
  where(key: string): string;
  /** The whole object, or undefined when absent. */
  read(key: string): Promise<Uint8Array | undefined>;
  /** Bytes [start, end) of an object. */
  readRange(key: string, start: number, end: number): Promise<Uint8Array>;
  /** The object as a stream of chunks (for planning large inputs). */
  stream(key: string): AsyncIterable<Uint8Array>;
  /** Writes an object; with ifAbsent, leaves an existing one alone and answers false. */
  write(key: string, body: string, options?: { ifAbsent?: boolean }): Promise<boolean>;
  /** Writes an object from a stream of parts, in constant memory. */
  writeStream(key: string, parts: AsyncIterable<Uint8Array | string>): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** An object's size and a tag that changes whenever its content is replaced (S3: the ETag). */
  head(key: string): Promise<{ size: number; etag: string }>;
  /** Keys under a prefix. */
  list(prefix: string): Promise<string[]>;
}

const isMissing = (error: unknown) => error instanceof NoSuchKey || error instanceof NotFound || ['NoSuchKey', 'NotFound'].includes((error as { name?: string }).name ?? '');

export class S3BatchStore implements BatchStore {
  readonly location: string;
  private readonly client: S3Client;
  private readonly bucket: string;

  constructor(client: S3Client, bucket: string) {
    this.client = client;
    this.bucket = bucket;
    this.location = `s3://${bucket}`;
  }

  where(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  async read(key: string): Promise<Uint8Array | undefined> {
    try {
      return await (await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }))).Body!.transformToByteArray();
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async readRange(key: string, start: number, end: number): Promise<Uint8Array> {
    if (end <= start) return new Uint8Array();
    const answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${start}-${end - 1}` }));
    return answer.Body!.transformToByteArray();
  }

  async *stream(key: string): AsyncIterable<Uint8Array> {
    const answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    yield* answer.Body as unknown as AsyncIterable<Uint8Array>;
  }

  async write(key: string, body: string, options: { ifAbsent?: boolean } = {}): Promise<boolean> {
    if (options.ifAbsent && (await this.exists(key))) return false;
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: key.endsWith('.json') ? 'application/json' : 'application/x-ndjson', IfNoneMatch: options.ifAbsent ? '*' : undefined }));
      return true;
    } catch (error) {
      if ((error as { name?: string }).name === 'PreconditionFailed') return false;
      throw error;
    }
  }

  async writeStream(key: string, parts: AsyncIterable<Uint8Array | string>): Promise<void> {
    await new Upload({ client: this.client, params: { Bucket: this.bucket, Key: key, Body: Readable.from(parts), ContentType: 'application/x-ndjson' } }).done();
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (error) {
      if (isMissing(error) || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
      throw error;
    }
  }

  async head(key: string): Promise<{ size: number; etag: string }> {
    const answer = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
    return { size: answer.ContentLength ?? 0, etag: answer.VersionId ?? answer.ETag ?? '' };
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: this.bucket, Prefix: prefix })) {
      for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
    }
    return keys;
  }
}

export class DirectoryBatchStore implements BatchStore {
  readonly location: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = root;
    this.location = `directory ${root}`;
  }

  where(key: string): string {
    return this.path(key);
  }

  private path(key: string): string {
    if (key.split('/').includes('..')) throw new Error(`invalid key "${key}"`);
    return join(this.root, key);
  }

  async read(key: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.path(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async readRange(key: string, start: number, end: number): Promise<Uint8Array> {
    if (end <= start) return new Uint8Array();
    const parts: Buffer[] = [];
    for await (const part of createReadStream(this.path(key), { start, end: end - 1 })) parts.push(part as Buffer);
    return Buffer.concat(parts);
  }

  stream(key: string): AsyncIterable<Uint8Array> {
    return createReadStream(this.path(key));
  }

  async write(key: string, body: string, options: { ifAbsent?: boolean } = {}): Promise<boolean> {
    await mkdir(dirname(this.path(key)), { recursive: true });
    try {
      await writeFile(this.path(key), body, { flag: options.ifAbsent ? 'wx' : 'w' });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  }

  async writeStream(key: string, parts: AsyncIterable<Uint8Array | string>): Promise<void> {
    await mkdir(dirname(this.path(key)), { recursive: true });
    await pipeline(Readable.from(parts), createWriteStream(this.path(key)));
  }

  async exists(key: string): Promise<boolean> {
    return stat(this.path(key)).then(() => true, () => false);
  }

  async head(key: string): Promise<{ size: number; etag: string }> {
    const info = await stat(this.path(key), { bigint: true });
    // A rewrite changes the modification time (in nanoseconds) even when the size stays the same.
    return { size: Number(info.size), etag: `${info.mtimeNs}-${info.ino}` };
  }

  async list(prefix: string): Promise<string[]> {
    const dir = this.path(prefix.endsWith('/') ? prefix : dirname(prefix));
    const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries
      .filter((e) => e.isFile())
      .map((e) => relative(this.root, join(e.parentPath, e.name)).split(sep).join('/'))
      .filter((key) => key.startsWith(prefix));
  }
}
