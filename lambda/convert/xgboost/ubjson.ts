/**
 * A decoder for the UBJSON that XGBoost's `Booster.save_model('model.ubj')` writes (Universal Binary
 * JSON draft 12, ubjson.org, as XGBoost's src/common/json.cc UBJReader reads it: big-endian numbers,
 * optimized containers with `$` type and `#` count, typed arrays of float32 `d`, int32 `l`, uint8 `U`).
 * Written here because no maintained UBJSON decoder is published on the npm registry we can use (none
 * in its package list), and the format is small. Every read is bounds-checked and nesting is limited, so
 * a truncated or corrupt file is refused with the offset of the problem, never read past its end.
 */
export class UbjsonError extends Error {}

const MAX_DEPTH = 64;

export function decodeUbjson(bytes: Uint8Array): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder('utf-8', { fatal: true });
  let at = 0;

  const fail = (problem: string): never => {
    throw new UbjsonError(`${problem} at byte ${at} of ${bytes.length}`);
  };
  const need = (n: number) => {
    if (at + n > bytes.length) fail(`the file ends inside a value (${n} more bytes needed)`);
  };
  const marker = (): number => {
    need(1);
    return bytes[at++];
  };
  const integer = (type: number): number => {
    switch (type) {
      case 0x69: need(1); return view.getInt8(at++); // i
      case 0x55: need(1); return view.getUint8(at++); // U
      case 0x49: need(2); at += 2; return view.getInt16(at - 2); // I
      case 0x6c: need(4); at += 4; return view.getInt32(at - 4); // l
      case 0x4c: { // L
        need(8);
        at += 8;
        const v = view.getBigInt64(at - 8);
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) fail('an int64 beyond 2^53');
        return Number(v);
      }
      default: return fail(`expected an integer type, found ${describe(type)}`);
    }
  };
  const length = (): number => {
    const n = integer(marker());
    if (n < 0) fail(`a negative length (${n})`);
    if (n > bytes.length - at) fail(`a length (${n}) longer than the rest of the file`);
    return n;
  };
  const string = (): string => {
    const n = length();
    need(n);
    const start = at;
    at += n;
    try {
      return text.decode(bytes.subarray(start, at));
    } catch {
      return fail('a string that is not UTF-8');
    }
  };
  const scalar = (type: number, depth: number): unknown => {
    switch (type) {
      case 0x5a: return null; // Z
      case 0x54: return true; // T
      case 0x46: return false; // F
      case 0x64: need(4); at += 4; return view.getFloat32(at - 4); // d
      case 0x44: need(8); at += 8; return view.getFloat64(at - 8); // D
      case 0x53: return string(); // S
      case 0x43: need(1); return String.fromCharCode(bytes[at++]); // C
      case 0x48: return Number(string()); // H (high-precision number, as text)
      case 0x5b: return array(depth + 1); // [
      case 0x7b: return object(depth + 1); // {
      case 0x69: case 0x55: case 0x49: case 0x6c: case 0x4c: return integer(type);
      default: return fail(`an unknown type marker ${describe(type)}`);
    }
  };
  const header = (): { type?: number; count?: number } => {
    let type: number | undefined;
    if (bytes[at] === 0x24) { // $
      at++;
      type = marker();
      if (bytes[at] !== 0x23) fail('a typed container without a count'); // #
    }
    if (bytes[at] === 0x23) {
      at++;
      return { type, count: length() };
    }
    return { type };
  };
  const array = (depth: number): unknown[] => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    const { type, count } = header();
    const out: unknown[] = [];
    if (count !== undefined) {
      for (let i = 0; i < count; i++) out.push(scalar(type ?? marker(), depth));
      return out;
    }
    for (;;) {
      const m = marker();
      if (m === 0x5d) return out; // ]
      out.push(scalar(m, depth));
    }
  };
  const object = (depth: number): Record<string, unknown> => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    const { type, count } = header();
    const out: Record<string, unknown> = Object.create(null);
    const entry = () => {
      const key = string();
      out[key] = scalar(type ?? marker(), depth);
    };
    if (count !== undefined) {
      for (let i = 0; i < count; i++) entry();
      return { ...out };
    }
    for (;;) {
      need(1);
      if (bytes[at] === 0x7d) { // }
        at++;
        return { ...out };
      }
      entry();
    }
  };

  const value = scalar(marker(), 0);
  if (at !== bytes.length) fail('extra bytes after the value');
  return value;
}

const describe = (byte: number) => (byte >= 0x20 && byte < 0x7f ? `'${String.fromCharCode(byte)}'` : `0x${byte.toString(16).padStart(2, '0')}`);
