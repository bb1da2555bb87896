/**
 * SHA-256 and HMAC-SHA256 for the SDK's signer in Node: node:crypto, as the SDK's own Node class
 * (`Sha256` of @smithy/core/checksum), but with the HMAC keys kept as KeyObjects. The signer makes
 * two HMACs per request with keys that rarely change (the secret key, for its signing-key cache, and
 * the day's signing key); Node turns a raw key into a KeyObject on every createHmac, which measured
 * here as a quarter of the time to sign a small request. Browsers get the SDK's own class (package.json
 * "browser" maps this file to sha256.browser.ts).
 */
import { createHash, createHmac, createSecretKey, type Hash, type Hmac, type KeyObject } from 'node:crypto';

const keys = new Map<string, KeyObject>();

function keyObject(secret: string | ArrayBuffer | ArrayBufferView): KeyObject {
  const bytes = typeof secret === 'string' ? Buffer.from(secret) : ArrayBuffer.isView(secret) ? Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength) : Buffer.from(secret);
  const id = bytes.toString('latin1');
  let key = keys.get(id);
  if (key === undefined) {
    // A few credentials and days at a time: bounded.
    if (keys.size >= 64) keys.clear();
    key = createSecretKey(Buffer.from(bytes));
    keys.set(id, key);
  }
  return key;
}

export class Sha256 {
  private hash: Hash | Hmac;
  private readonly secret: string | ArrayBuffer | ArrayBufferView | undefined;

  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.secret = secret;
    this.hash = this.start();
  }

  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === 'string' ? Buffer.from(data) : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data));
  }

  async digest(): Promise<Uint8Array> {
    const out = this.hash.digest();
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }

  reset(): void {
    this.hash = this.start();
  }

  private start(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', keyObject(this.secret));
  }
}
