/**
 * A small builder for the ONNX graph a PMML document becomes: standard operators only, every value
 * a DOUBLE tensor (PMML computes in double), rows on axis 0. Names are generated; constants are
 * initializers.
 */
import { DataType, encodeModel, type Attribute, type Model, type Node, type Tensor, type ValueInfo } from '../onnx/onnx-model.ts';

/** ONNX opset the graph is written for (Reduce* take axes as an input from 18). */
export const OPSET = 21;
/** ai.onnx.ml, for the TreeEnsemble the shared tree emitter writes. */
const ML_OPSET = 5;

type AttrValue = number | number[] | string | { floats: number[] } | { float: number };

function toAttribute(name: string, value: AttrValue): Attribute {
  if (typeof value === 'string') return { name, type: 3, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: 7, ints: value };
  if (typeof value === 'number') return { name, type: 2, i: value };
  if ('floats' in value) return { name, type: 6, floats: value.floats };
  return { name, type: 1, f: value.float };
}

export class GraphBuilder {
  private readonly nodes: Node[] = [];
  private readonly initializers: Tensor[] = [];
  private readonly outputs: ValueInfo[] = [];
  private counter = 0;
  private readonly constants = new Map<string, string>();
  /** The input: `features` [-1, n] DOUBLE. */
  readonly input = 'features';

  fresh(hint: string): string {
    this.counter += 1;
    return `${hint}_${this.counter}`;
  }

  /** One node with one output. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    const out = this.fresh(opType.toLowerCase());
    this.nodes.push({ opType, input: inputs, output: [out], attribute: Object.entries(attrs).map(([k, v]) => toAttribute(k, v)) });
    return out;
  }

  /** One node with several outputs. */
  opN(opType: string, inputs: string[], outputs: number, attrs: Record<string, AttrValue> = {}): string[] {
    const out = Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase()));
    this.nodes.push({ opType, input: inputs, output: out, attribute: Object.entries(attrs).map(([k, v]) => toAttribute(k, v)) });
    return out;
  }

  /** A DOUBLE constant of the given shape (shared when the same values and shape recur). */
  constant(values: ArrayLike<number>, dims: number[] = [values.length]): string {
    const array = Float64Array.from(values);
    const key = values.length <= 16 ? `d${dims.join('x')}:${Array.from(array).join(',')}` : undefined;
    const known = key === undefined ? undefined : this.constants.get(key);
    if (known !== undefined) return known;
    const name = this.fresh('c');
    this.initializers.push({ name, dataType: DataType.DOUBLE, dims, rawData: new Uint8Array(array.buffer) });
    if (key !== undefined) this.constants.set(key, name);
    return name;
  }

  /** A STRING constant (reason codes, looked up by index). */
  strings(values: readonly string[]): string {
    const name = this.fresh('s');
    const tensor = { name, dataType: 8, dims: [values.length], stringData: values.map((v) => new TextEncoder().encode(v)) };
    this.initializers.push(tensor as Tensor);
    return name;
  }

  /** A scalar DOUBLE constant, broadcast against [N, k]. */
  scalar(value: number): string {
    return this.constant([value], []);
  }

  /** An INT64 constant (indices, shapes, axes). */
  int64(values: ArrayLike<number>, dims: number[] = [values.length]): string {
    const array = BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
    const key = values.length <= 16 ? `i${dims.join('x')}:${Array.from(values).join(',')}` : undefined;
    const known = key === undefined ? undefined : this.constants.get(key);
    if (known !== undefined) return known;
    const name = this.fresh('i');
    this.initializers.push({ name, dataType: DataType.INT64, dims, rawData: new Uint8Array(array.buffer) });
    if (key !== undefined) this.constants.set(key, name);
    return name;
  }

  // Arithmetic and logic on DOUBLE tensors (booleans are kept as 0/1 doubles unless named *Bool).
  add = (a: string, b: string): string => this.op('Add', [a, b]);
  sub = (a: string, b: string): string => this.op('Sub', [a, b]);
  mul = (a: string, b: string): string => this.op('Mul', [a, b]);
  div = (a: string, b: string): string => this.op('Div', [a, b]);
  neg = (a: string): string => this.op('Neg', [a]);
  exp = (a: string): string => this.op('Exp', [a]);
  log = (a: string): string => this.op('Log', [a]);
  toDouble = (a: string): string => this.op('Cast', [a], { to: DataType.DOUBLE });
  toBool = (a: string): string => this.op('Cast', [a], { to: DataType.BOOL });
  isNaN = (a: string): string => this.op('IsNaN', [a]);
  not = (a: string): string => this.op('Not', [a]);
  where = (condBool: string, a: string, b: string): string => this.op('Where', [condBool, a, b]);
  /** 1 - x for 0/1 doubles. */
  complement = (a: string): string => this.sub(this.scalar(1), a);
  /** x with NaN wherever `maskBool` is true. */
  nanWhere = (maskBool: string, x: string): string => this.where(maskBool, this.scalar(NaN), x);
  concat = (parts: string[], axis = 1): string => (parts.length === 1 ? parts[0] : this.op('Concat', parts, { axis }));
  gather = (data: string, indices: number[] | string, axis = 1): string => this.op('Gather', [data, typeof indices === 'string' ? indices : this.int64(indices)], { axis });
  reduce = (op: 'ReduceSum' | 'ReduceMax' | 'ReduceMin' | 'ReduceProd', x: string, axes: number[], keepdims = 1): string => this.op(op, [x, this.int64(axes)], { keepdims });
  matmul = (a: string, b: string): string => this.op('MatMul', [a, b]);
  reshape = (x: string, shape: number[]): string => this.op('Reshape', [x, this.int64(shape)]);
  /** Column j..j+1 of [N, k] as [N, 1]. */
  private readonly memos = new Map<string, string>();
  /** A value built once per graph under `key`. */
  memo(key: string, make: () => string): string {
    let v = this.memos.get(key);
    if (v === undefined) {
      v = make();
      this.memos.set(key, v);
    }
    return v;
  }

  private readonly columns = new Map<string, string>();
  column = (x: string, j: number): string => {
    const key = `${x}\u0000${j}`;
    let c = this.columns.get(key);
    if (c === undefined) {
      c = this.gather(x, this.int64([j], [1]), 1);
      this.columns.set(key, c);
    }
    return c;
  };
  /** A boolean comparison cast to 0/1 double. */
  compare = (op: 'Less' | 'LessOrEqual' | 'Greater' | 'GreaterOrEqual' | 'Equal', a: string, b: string): string => this.toDouble(this.op(op, [a, b]));

  output(name: string, from: string, elemType: number, dims: number[]): void {
    this.nodes.push({ opType: 'Identity', input: [from], output: [name], attribute: [] });
    this.outputs.push({ name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (d < 0 ? { dimParam: 'N' } : { dimValue: d })) } } } });
  }

  private adopted = 0;

  /**
   * Nodes and initializers written by another builder (the shared tree emitter) join this graph, their
   * names prefixed so they cannot collide; `input` keeps its name. Returns the new name of `output`.
   */
  adopt(nodes: readonly Node[], initializers: readonly Tensor[], input: string, output: string): string {
    this.adopted += 1;
    const prefix = `ensemble${this.adopted}/`;
    const rename = (name: string): string => (name === input || name === '' ? name : prefix + name);
    for (const t of initializers) this.initializers.push({ ...t, name: rename(t.name) });
    for (const n of nodes) this.nodes.push({ ...n, input: n.input.map(rename), output: n.output.map(rename), ...(n.name !== undefined ? { name: rename(n.name) } : {}) });
    return rename(output);
  }

  /** The finished model: input `features` [N, width] DOUBLE. Nodes no output depends on are left out. */
  build(width: number, metadata: Record<string, string>): Uint8Array {
    const needed = new Set(this.outputs.map((o) => o.name));
    const kept: Node[] = [];
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i];
      if (!node.output.some((o) => needed.has(o))) continue;
      kept.push(node);
      for (const input of node.input) needed.add(input);
    }
    kept.reverse();
    const initializers = this.initializers.filter((t) => needed.has(t.name));
    const model: Model = {
      irVersion: 10,
      opsetImport: [{ domain: '', version: OPSET }, ...(kept.some((n) => n.domain === 'ai.onnx.ml') ? [{ domain: 'ai.onnx.ml', version: ML_OPSET }] : [])],
      producerName: 'modelship-convert',
      graph: {
        name: 'pmml',
        node: kept,
        initializer: initializers,
        input: [{ name: this.input, type: { tensorType: { elemType: DataType.DOUBLE, shape: { dim: [{ dimParam: 'N' }, { dimValue: width }] } } } }],
        output: this.outputs,
        valueInfo: [],
      },
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    };
    return encodeModel(model);
  }
}
