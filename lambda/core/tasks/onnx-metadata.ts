/**
 * model.onnx's metadata_props (Ultralytics writes names, imgsz, stride and task there; Optimum and
 * others their own keys), read without decoding the graph: ModelProto's top-level fields are walked
 * and only field 14, `repeated StringStringEntryProto metadata_props` (key = 1, value = 2), is read
 * (lambda/convert/onnx/onnx-ml.proto, `message ModelProto`). The core may not import protobufjs
 * (test/lambda/architecture.test.ts), and decoding the whole ModelProto would copy every weight;
 * this walk needs only varints and length skips, the protobuf wire format's two primitives
 * (protobuf.dev/programming-guides/encoding).
 */

const METADATA_PROPS = 14;

class Wire {
  position = 0;
  private readonly bytes: Uint8Array;
  private readonly where: string;

  constructor(bytes: Uint8Array, where: string) {
    this.bytes = bytes;
    this.where = where;
  }

  get done(): boolean {
    return this.position >= this.bytes.length;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.position >= this.bytes.length) throw new Error(`${this.where} is truncated (a varint runs past the end)`);
      const byte = this.bytes[this.position++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw new Error(`${this.where} is not an ONNX model (a varint longer than 10 bytes)`);
  }

  /** A length-delimited field's bytes. */
  chunk(): Uint8Array {
    const length = this.varint();
    const end = this.position + length;
    if (end > this.bytes.length) throw new Error(`${this.where} is truncated (a field of ${length} bytes runs past the end)`);
    const out = this.bytes.subarray(this.position, end);
    this.position = end;
    return out;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.position += 8;
    else if (wireType === 2) this.chunk();
    else if (wireType === 5) this.position += 4;
    else throw new Error(`${this.where} is not an ONNX model (wire type ${wireType})`);
  }
}

const text = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');

/** The model's metadata_props as a record (a key repeated keeps its last value, as onnxruntime's map does). */
export function onnxMetadataProps(model: Uint8Array, where = 'model.onnx'): Record<string, string> {
  const props: Record<string, string> = {};
  const wire = new Wire(model, where);
  while (!wire.done) {
    const tag = wire.varint();
    const [field, wireType] = [Math.floor(tag / 8), tag & 7];
    if (field !== METADATA_PROPS || wireType !== 2) {
      wire.skip(wireType);
      continue;
    }
    const entry = new Wire(wire.chunk(), where);
    let key = '';
    let value = '';
    while (!entry.done) {
      const entryTag = entry.varint();
      const [entryField, entryType] = [Math.floor(entryTag / 8), entryTag & 7];
      if (entryField === 1 && entryType === 2) key = text(entry.chunk());
      else if (entryField === 2 && entryType === 2) value = text(entry.chunk());
      else entry.skip(entryType);
    }
    props[key] = value;
  }
  return props;
}
