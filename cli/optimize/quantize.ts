/**
 * Dynamic INT8 quantization, as onnxruntime's quantize_dynamic does it (IntegerOps format): the
 * weights are stored as INT8 with a scale per output channel, and activations are quantized at run
 * time by DynamicQuantizeLinear (uint8, one scale per tensor per run):
 *   MatMul / Gemm  x -> DynamicQuantizeLinear -> MatMulInteger(x_q, W_q, x_zp, 0) -> Cast -> Mul(x_scale * W_scale) [-> Add bias]
 *   Conv           x -> DynamicQuantizeLinear -> ConvInteger(x_q, W_q, x_zp, 0) -> Cast -> Mul(x_scale * W_scale) [-> Add bias]
 *   Gather (an FP32 embedding table)  Gather(W_q, ids) -> Cast -> Mul(Gather(W_scale, ids))   (a scale per row)
 * onnxruntime fuses the MatMul pattern into one MatMulIntegerToFloat kernel at load. Integer lookup
 * tables read by Gather are narrowed to the smallest integer type that holds their values (a Cast
 * after the Gather restores the type). Written by hand, in TypeScript, because onnxruntime's
 * quantizer is Python only, and building, serving and testing here never need Python.
 */
import { attribute, DataType, floatAttribute, floatValues, intAttribute, intValues, makeNode, makeTensor, num, opsetVersion, setOpsetVersion, type Graph, type Model, type Node, type Tensor } from '../../lambda/convert/onnx/onnx-model.ts';

export const QUANTIZABLE_OPS = ['MatMul', 'Gemm', 'Conv', 'Gather'] as const;

export interface QuantizeOptions {
  /** Op types to quantize. @default QUANTIZABLE_OPS */
  readonly opTypes?: readonly string[];
  /** Node names (or output names, for unnamed nodes) left in FP32. */
  readonly excludeNodes?: readonly string[];
  /** Weights to 7 bits (±63), for CPUs without VNNI, where u8×s8 products can saturate. @default false */
  readonly reduceRange?: boolean;
  /** Weight bits: 8, or fewer to over-quantize deliberately (tests of the golden gate). @default 8 */
  readonly weightBits?: number;
}

export interface QuantizedNode {
  readonly node: string;
  readonly op: string;
  /** How: 'per-channel int8', 'per-row int8', 'uint16 lookup', ... */
  readonly as: string;
}

export interface QuantizeReport {
  readonly quantized: QuantizedNode[];
  readonly skipped: { node: string; op: string; why: string }[];
  /** Set when the model's ai.onnx opset was raised to 11 for DynamicQuantizeLinear. */
  readonly opsetRaisedFrom?: number;
}

/** Ops whose inputs or meaning changed between opset 9 and 11 that the upgrade below does not rewrite. */
const CHANGED_BEFORE_11 = new Set(['Upsample', 'Resize', 'TopK', 'Pad', 'Dropout', 'Scan', 'If', 'Loop']);

const nodeName = (node: Node): string => node.name || node.output[0];

/** Constant nodes' tensors become initializers, where weights can be found and rewritten. */
function constantsToInitializers(graph: Graph): void {
  const kept: Node[] = [];
  for (const node of graph.node) {
    const value = node.opType === 'Constant' && (node.domain ?? '') === '' ? attribute(node, 'value')?.t : undefined;
    if (value !== undefined) graph.initializer.push({ ...value, name: node.output[0] });
    else kept.push(node);
  }
  graph.node = kept;
}

/** Raises ai.onnx to opset 11 (DynamicQuantizeLinear's), rewriting Clip and Slice, whose attributes became inputs. */
function raiseOpsetTo11(model: Model): number | undefined {
  const from = opsetVersion(model);
  if (from >= 11) return undefined;
  if (from < 7) throw new Error(`the model imports ai.onnx opset ${from}; quantization needs opset 7 or later (convert it with onnx.version_converter first)`);
  const graph = model.graph;
  for (const node of graph.node) {
    if ((node.domain ?? '') !== '') continue;
    if (CHANGED_BEFORE_11.has(node.opType)) throw new Error(`the model imports ai.onnx opset ${from} and uses ${node.opType} ("${nodeName(node)}"), whose definition changed before opset 11, which quantization needs; convert the model with onnx.version_converter to opset 11 or later first`);
    if (node.opType === 'Clip' && from < 11) {
      const min = floatAttribute(node, 'min', -3.4028234663852886e38);
      const max = floatAttribute(node, 'max', 3.4028234663852886e38);
      const prefix = `${nodeName(node)}_clip`;
      graph.initializer.push(makeTensor(`${prefix}_min`, DataType.FLOAT, [], Float32Array.of(min)), makeTensor(`${prefix}_max`, DataType.FLOAT, [], Float32Array.of(max)));
      node.input = [node.input[0], `${prefix}_min`, `${prefix}_max`];
      node.attribute = node.attribute.filter((a) => a.name !== 'min' && a.name !== 'max');
    }
    if (node.opType === 'Slice' && from < 10) {
      const prefix = `${nodeName(node)}_slice`;
      const ints = (name: string) => attribute(node, name)?.ints?.map(num);
      const [starts, ends, axes] = [ints('starts') ?? [], ints('ends') ?? [], ints('axes')];
      graph.initializer.push(makeTensor(`${prefix}_starts`, DataType.INT64, [starts.length], BigInt64Array.from(starts.map(BigInt))), makeTensor(`${prefix}_ends`, DataType.INT64, [ends.length], BigInt64Array.from(ends.map(BigInt))));
      node.input = [node.input[0], `${prefix}_starts`, `${prefix}_ends`];
      if (axes !== undefined) {
        graph.initializer.push(makeTensor(`${prefix}_axes`, DataType.INT64, [axes.length], BigInt64Array.from(axes.map(BigInt))));
        node.input.push(`${prefix}_axes`);
      }
      node.attribute = [];
    }
  }
  setOpsetVersion(model, 11);
  if (num(model.irVersion) < 6) model.irVersion = 6;
  return from;
}

/** Symmetric INT8 weights with one scale per slice along `axis` (0: rows / output channels, 1: columns). */
function quantizeWeights(values: Float32Array, dims: readonly number[], axis: number, bits: number): { q: Int8Array; scales: Float32Array } {
  const channels = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const limit = 2 ** (bits - 1) - 1;
  const maxAbs = new Float32Array(channels);
  for (let i = 0; i < values.length; i++) {
    const c = Math.floor(i / inner) % channels;
    maxAbs[c] = Math.max(maxAbs[c], Math.abs(values[i]));
  }
  const scales = maxAbs.map((m) => (m === 0 ? 1 : m / limit));
  const q = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const c = Math.floor(i / inner) % channels;
    q[i] = Math.max(-limit, Math.min(limit, Math.round(values[i] / scales[c])));
  }
  return { q, scales };
}

/** The smallest integer type holding every value, for a lookup table. */
function narrowestInt(values: readonly number[]): { type: number; array: ArrayBufferView; name: string } | undefined {
  let [min, max] = [Infinity, -Infinity];
  for (const v of values) [min, max] = [Math.min(min, v), Math.max(max, v)];
  if (min >= 0 && max <= 255) return { type: DataType.UINT8, array: Uint8Array.from(values), name: 'uint8' };
  if (min >= -128 && max <= 127) return { type: DataType.INT8, array: Int8Array.from(values), name: 'int8' };
  if (min >= 0 && max <= 65535) return { type: DataType.UINT16, array: Uint16Array.from(values), name: 'uint16' };
  if (min >= -32768 && max <= 32767) return { type: DataType.INT16, array: Int16Array.from(values), name: 'int16' };
  return undefined;
}

/** Quantizes the model in place; returns what was quantized, and what was not and why. */
export function quantizeDynamic(model: Model, options: QuantizeOptions = {}): QuantizeReport {
  const opTypes = new Set(options.opTypes ?? QUANTIZABLE_OPS);
  const exclude = new Set(options.excludeNodes ?? []);
  const bits = options.weightBits ?? (options.reduceRange ? 7 : 8);
  const graph = model.graph;
  const known = new Set(graph.node.map(nodeName));
  for (const name of exclude) if (!known.has(name) && !graph.node.some((n) => n.output.includes(name))) throw new Error(`--exclude names node "${name}", which the model does not have`);
  constantsToInitializers(graph);
  const opsetRaisedFrom = raiseOpsetTo11(model);
  const opset = opsetVersion(model);
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const graphInputs = new Set(graph.input.map((i) => i.name));
  // A weight that is also a graph input can be overridden at run time: it is not a constant.
  const constant = (name: string | undefined) => (name !== undefined && !graphInputs.has(name) ? initializers.get(name) : undefined);
  const report: QuantizeReport = { quantized: [], skipped: [], ...(opsetRaisedFrom !== undefined ? { opsetRaisedFrom } : {}) };
  const added: Tensor[] = [];
  const quantizedActivations = new Map<string, [string, string, string]>();
  const out: Node[] = [];
  let unique = 0;
  const fresh = (base: string) => `${base}__q${unique++}`;

  const quantizeActivation = (name: string): [string, string, string] => {
    let q = quantizedActivations.get(name);
    if (q === undefined) {
      q = [fresh(`${name}_quantized`), fresh(`${name}_scale`), fresh(`${name}_zero_point`)];
      out.push(makeNode('DynamicQuantizeLinear', [name], [...q], {}, fresh(`${name}_DynamicQuantizeLinear`)));
      quantizedActivations.set(name, q);
    }
    return q;
  };
  /** Cast(int32 -> float) then Mul by x_scale * W_scale, into `output`. */
  const rescale = (integerOut: string, xScale: string, wScale: string, output: string, base: string) => {
    const [asFloat, scale] = [fresh(`${base}_float`), fresh(`${base}_scale`)];
    out.push(makeNode('Cast', [integerOut], [asFloat], { to: DataType.FLOAT }, fresh(`${base}_Cast`)));
    out.push(makeNode('Mul', [xScale, wScale], [scale], {}, fresh(`${base}_scale_Mul`)));
    out.push(makeNode('Mul', [asFloat, scale], [output], {}, fresh(`${base}_Mul`)));
  };

  for (const node of graph.node) {
    const name = nodeName(node);
    const skip = (why: string) => {
      report.skipped.push({ node: name, op: node.opType, why });
      out.push(node);
    };
    if ((node.domain ?? '') !== '' || !opTypes.has(node.opType)) {
      out.push(node);
      continue;
    }
    if (exclude.has(name) || node.output.some((o) => exclude.has(o))) {
      skip('excluded');
      continue;
    }
    if (node.opType === 'MatMul' || node.opType === 'Gemm') {
      const w = constant(node.input[1]);
      if (w === undefined || w.dataType !== DataType.FLOAT || w.dims.length !== 2) {
        skip('its weights are not a constant 2-D FP32 tensor');
        continue;
      }
      if (node.opType === 'Gemm' && intAttribute(node, 'transA', 0) !== 0) {
        skip('transA is set');
        continue;
      }
      let values = floatValues(w);
      let [k, n] = w.dims.map(num);
      if (node.opType === 'Gemm' && intAttribute(node, 'transB', 0) !== 0) {
        const t = new Float32Array(values.length);
        for (let r = 0; r < k; r++) for (let c = 0; c < n; c++) t[c * k + r] = values[r * n + c];
        [values, k, n] = [t, n, k];
      }
      const alpha = node.opType === 'Gemm' ? floatAttribute(node, 'alpha', 1) : 1;
      const { q, scales } = quantizeWeights(values, [k, n], 1, bits);
      const base = fresh(name);
      const [wq, ws, wz] = [`${base}_W_quantized`, `${base}_W_scale`, `${base}_W_zero_point`];
      added.push(makeTensor(wq, DataType.INT8, [k, n], q), makeTensor(ws, DataType.FLOAT, [n], scales.map((s) => s * alpha)), makeTensor(wz, DataType.INT8, [n], new Int8Array(n)));
      const [xq, xs, xz] = quantizeActivation(node.input[0]);
      const integerOut = fresh(`${base}_MatMulInteger`);
      out.push(makeNode('MatMulInteger', [xq, wq, xz, wz], [integerOut], {}, fresh(`${base}_MatMulInteger`)));
      const bias = node.opType === 'Gemm' ? node.input[2] : undefined;
      if (bias === undefined || bias === '') rescale(integerOut, xs, ws, node.output[0], base);
      else {
        const beta = floatAttribute(node, 'beta', 1);
        const scaled = fresh(`${base}_product`);
        rescale(integerOut, xs, ws, scaled, base);
        let biasName = bias;
        if (beta !== 1) {
          const c = constant(bias);
          if (c === undefined) {
            biasName = fresh(`${base}_bias`);
            added.push(makeTensor(`${biasName}_beta`, DataType.FLOAT, [], Float32Array.of(beta)));
            out.push(makeNode('Mul', [bias, `${biasName}_beta`], [biasName], {}, fresh(`${base}_beta_Mul`)));
          } else {
            biasName = fresh(`${base}_bias`);
            added.push(makeTensor(biasName, DataType.FLOAT, c.dims.map(num), floatValues(c).map((v) => v * beta)));
          }
        }
        out.push(makeNode('Add', [scaled, biasName], [node.output[0]], {}, fresh(`${base}_Add`)));
      }
      report.quantized.push({ node: name, op: node.opType, as: bits === 8 ? 'int8, a scale per output column' : `int${bits}, a scale per output column` });
      continue;
    }
    if (node.opType === 'Conv') {
      const w = constant(node.input[1]);
      if (w === undefined || w.dataType !== DataType.FLOAT || w.dims.length !== 4) {
        skip('its weights are not a constant 4-D FP32 tensor');
        continue;
      }
      const dims = w.dims.map(num);
      const { q, scales } = quantizeWeights(floatValues(w), dims, 0, bits);
      const m = dims[0];
      const base = fresh(name);
      const [wq, ws, wz] = [`${base}_W_quantized`, `${base}_W_scale`, `${base}_W_zero_point`];
      // Symmetric weights: a zero point of 0 for every channel, given as one scalar (onnxruntime's
      // ConvInteger takes no per-channel zero point); the scales stay per channel, in the rescale.
      added.push(makeTensor(wq, DataType.INT8, dims, q), makeTensor(ws, DataType.FLOAT, [1, m, 1, 1], scales), makeTensor(wz, DataType.INT8, [], Int8Array.of(0)));
      const [xq, xs, xz] = quantizeActivation(node.input[0]);
      const integerOut = fresh(`${base}_ConvInteger`);
      const attrs = node.attribute.filter((a) => ['auto_pad', 'dilations', 'group', 'kernel_shape', 'pads', 'strides'].includes(a.name));
      out.push({ ...makeNode('ConvInteger', [xq, wq, xz, wz], [integerOut], {}, fresh(`${base}_ConvInteger`)), attribute: attrs });
      const bias = node.input[2];
      if (bias === undefined || bias === '') rescale(integerOut, xs, ws, node.output[0], base);
      else {
        const scaled = fresh(`${base}_product`);
        rescale(integerOut, xs, ws, scaled, base);
        const c = constant(bias);
        const biasName = fresh(`${base}_bias`);
        if (c !== undefined) added.push(makeTensor(biasName, DataType.FLOAT, [1, m, 1, 1], floatValues(c)));
        else {
          added.push(makeTensor(`${biasName}_shape`, DataType.INT64, [4], BigInt64Array.of(1n, BigInt(m), 1n, 1n)));
          out.push(makeNode('Reshape', [bias, `${biasName}_shape`], [biasName], {}, fresh(`${base}_bias_Reshape`)));
        }
        out.push(makeNode('Add', [scaled, biasName], [node.output[0]], {}, fresh(`${base}_Add`)));
      }
      report.quantized.push({ node: name, op: 'Conv', as: bits === 8 ? 'int8, a scale per output channel' : `int${bits}, a scale per output channel` });
      continue;
    }
    if (node.opType === 'Gather') {
      const table = constant(node.input[0]);
      if (table === undefined) {
        skip('its data is not a constant');
        continue;
      }
      const axis = intAttribute(node, 'axis', 0);
      const base = fresh(name);
      if (table.dataType === DataType.INT64 || table.dataType === DataType.INT32) {
        // A lookup table of ids: stored narrower, the gathered values cast back to the original type.
        const narrow = narrowestInt(intValues(table));
        if (narrow === undefined) {
          skip('its integer values need 32 bits or more');
          continue;
        }
        const [tq, gathered] = [`${base}_narrowed`, fresh(`${base}_gathered`)];
        added.push(makeTensor(tq, narrow.type, table.dims.map(num), narrow.array));
        out.push(makeNode('Gather', [tq, node.input[1]], [gathered], { axis }, fresh(`${base}_Gather`)));
        out.push(makeNode('Cast', [gathered], [node.output[0]], { to: table.dataType }, fresh(`${base}_Cast`)));
        report.quantized.push({ node: name, op: 'Gather', as: `${narrow.name} lookup table (was ${table.dataType === DataType.INT64 ? 'int64' : 'int32'})` });
        continue;
      }
      if (table.dataType !== DataType.FLOAT || table.dims.length !== 2 || axis !== 0) {
        skip('its data is not a 2-D FP32 table gathered along rows');
        continue;
      }
      const dims = table.dims.map(num);
      const { q, scales } = quantizeWeights(floatValues(table), dims, 0, bits);
      const [tq, ts] = [`${base}_W_quantized`, `${base}_W_scale`];
      added.push(makeTensor(tq, DataType.INT8, dims, q), makeTensor(ts, DataType.FLOAT, [dims[0]], scales));
      const [rows, rowScales, asFloat, unsqueezed] = [fresh(`${base}_rows`), fresh(`${base}_row_scales`), fresh(`${base}_float`), fresh(`${base}_row_scales_unsqueezed`)];
      out.push(makeNode('Gather', [tq, node.input[1]], [rows], { axis: 0 }, fresh(`${base}_Gather`)));
      out.push(makeNode('Gather', [ts, node.input[1]], [rowScales], { axis: 0 }, fresh(`${base}_scale_Gather`)));
      out.push(makeNode('Cast', [rows], [asFloat], { to: DataType.FLOAT }, fresh(`${base}_Cast`)));
      if (opset >= 13) {
        added.push(makeTensor(`${base}_last_axis`, DataType.INT64, [1], BigInt64Array.of(-1n)));
        out.push(makeNode('Unsqueeze', [rowScales, `${base}_last_axis`], [unsqueezed], {}, fresh(`${base}_Unsqueeze`)));
      } else {
        out.push(makeNode('Unsqueeze', [rowScales], [unsqueezed], { axes: [-1] }, fresh(`${base}_Unsqueeze`)));
      }
      out.push(makeNode('Mul', [asFloat, unsqueezed], [node.output[0]], {}, fresh(`${base}_Mul`)));
      report.quantized.push({ node: name, op: 'Gather', as: bits === 8 ? 'int8 table, a scale per row' : `int${bits} table, a scale per row` });
      continue;
    }
    out.push(node);
  }
  graph.node = out;
  graph.initializer.push(...added);
  // Weights no node reads any more (the FP32 originals) are dropped.
  const used = new Set(graph.node.flatMap((n) => n.input));
  for (const o of graph.output) used.add(o.name);
  graph.initializer = graph.initializer.filter((t) => used.has(t.name) || graphInputs.has(t.name));
  if (report.quantized.length === 0) throw new Error(`nothing to quantize: the model has no ${[...opTypes].join(', ')} node with constant weights${report.skipped.length > 0 ? ` (${report.skipped.map((s) => `${s.node}: ${s.why}`).join('; ')})` : ''}`);
  return report;
}
