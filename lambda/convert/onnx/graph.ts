/**
 * A small builder for ONNX graphs written by the converters: named values, constants as initializers,
 * nodes with typed attributes, and the model around them (IR 10, ai.onnx 21, ai.onnx.ml 5, which
 * onnxruntime-node 1.30 runs). Values are typed by the caller; the builder does no shape inference.
 */
import { AttributeType, DataType, makeTensor, type Attribute, type Model, type Node, type Tensor } from './onnx-model.ts';

export type ElementType = 'FP32' | 'FP64';
export const ONNX_OPSET = 21;
export const ONNX_ML_OPSET = 5;
const IR_VERSION = 10;

export const elementDataType = (type: ElementType | 'INT64'): number => (type === 'FP32' ? DataType.FLOAT : type === 'FP64' ? DataType.DOUBLE : DataType.INT64);

/** An attribute's value, tagged with its ONNX type (a number alone cannot say int or float). */
export type AttributeValue =
  | { readonly int: number }
  | { readonly float: number }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] }
  | { readonly string: string }
  | { readonly tensor: Tensor };

function toAttribute(name: string, value: AttributeValue): Attribute {
  if ('int' in value) return { name, type: AttributeType.INT, i: value.int };
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  if ('ints' in value) return { name, type: AttributeType.INTS, ints: [...value.ints] };
  if ('floats' in value) return { name, type: AttributeType.FLOATS, floats: [...value.floats] };
  if ('string' in value) return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value.string) };
  return { name, type: AttributeType.TENSOR, t: value.tensor };
}

/** A typed array of the element type's width holding `values` (FP32 rounds to float32). */
export function typedValues(type: ElementType | 'INT64', values: ArrayLike<number>): Float32Array | Float64Array | BigInt64Array {
  if (type === 'FP32') return Float32Array.from(values);
  if (type === 'FP64') return Float64Array.from(values);
  return BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
}

export interface GraphOutput {
  readonly name: string;
  readonly type: ElementType | 'INT64';
  /** -1 marks the batch dimension. */
  readonly shape: readonly number[];
}

export class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: Tensor[] = [];
  private counter = 0;

  /** A fresh value name. */
  fresh(prefix: string): string {
    this.counter += 1;
    return `${prefix}_${this.counter}`;
  }

  /** A constant tensor (an initializer), returning its name. */
  constant(type: ElementType | 'INT64', dims: readonly number[], values: ArrayLike<number>, prefix = 'const'): string {
    const name = this.fresh(prefix);
    this.initializers.push(makeTensor(name, elementDataType(type), dims, typedValues(type, values)));
    return name;
  }

  /** A scalar constant. */
  scalar(type: ElementType | 'INT64', value: number, prefix = 'scalar'): string {
    return this.constant(type, [], [value], prefix);
  }

  /** Adds a node with one output, returning the output's name. */
  op(opType: string, inputs: readonly string[], attributes: Record<string, AttributeValue> = {}, options: { domain?: string; output?: string } = {}): string {
    const output = options.output ?? this.fresh(opType.toLowerCase());
    this.nodes.push({
      opType,
      input: [...inputs],
      output: [output],
      attribute: Object.entries(attributes).map(([key, value]) => toAttribute(key, value)),
      name: this.fresh(`${opType}_node`),
      ...(options.domain !== undefined ? { domain: options.domain } : {}),
    });
    return output;
  }

  /** Renames a value into a graph output (Identity, so any value, even an input, can be one). */
  output(value: string, name: string): string {
    return this.op('Identity', [value], {}, { output: name });
  }

  /** The model: one input `name` of [-1, width] and the given outputs. */
  model(input: { name: string; type: ElementType; width: number }, outputs: readonly GraphOutput[], metadata: Record<string, string>, producer: string): Model {
    const dim = (d: number) => (d < 0 ? { dimParam: 'N' } : { dimValue: d });
    const valueInfo = (name: string, type: ElementType | 'INT64', shape: readonly number[]) => ({
      name,
      type: { tensorType: { elemType: elementDataType(type), shape: { dim: shape.map(dim) } } },
    });
    return {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }, { domain: 'ai.onnx.ml', version: ONNX_ML_OPSET }],
      producerName: producer,
      graph: {
        name: 'modelship-convert',
        node: this.nodes,
        initializer: this.initializers,
        input: [valueInfo(input.name, input.type, [-1, input.width])],
        output: outputs.map((o) => valueInfo(o.name, o.type, o.shape)),
        valueInfo: [],
      },
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    };
  }
}
