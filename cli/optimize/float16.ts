/**
 * FP16 for GPU targets, as onnxconverter-common's convert_float_to_float16 does it with
 * keep_io_types: FP32 weights become FP16, the graph's FP32 inputs are cast to FP16 on the way in
 * and its FP32 outputs back to FP32 on the way out, so clients keep sending and reading FP32. Ops
 * with no FP16 form (the ai.onnx.ml ops, and the ones onnxconverter-common blocks by default) stay
 * in FP32, with casts around them. Tensor types are followed through the graph to know which
 * inputs of those ops are floats.
 */
import { DataType, floatValues, makeNode, makeTensor, num, type Model, type Node, type Tensor } from '../../lambda/convert/onnx/onnx-model.ts';

/** onnxconverter-common's DEFAULT_OP_BLOCK_LIST, for the ai.onnx domain. */
const BLOCKED = new Set(['ArrayFeatureExtractor', 'Binarizer', 'CastMap', 'CategoryMapper', 'DictVectorizer', 'FeatureVectorizer', 'Imputer', 'LabelEncoder', 'LinearClassifier', 'LinearRegressor', 'Normalizer', 'OneHotEncoder', 'RandomUniformLike', 'SVMClassifier', 'SVMRegressor', 'Scaler', 'TreeEnsembleClassifier', 'TreeEnsembleRegressor', 'ZipMap', 'NonMaxSuppression', 'TopK', 'RoiAlign', 'Resize', 'Range', 'CumSum', 'Min', 'Max', 'Upsample']);
/** Ops whose outputs are not the type of their first input. */
const OUTPUT_TYPE: Record<string, (node: Node) => number | undefined> = {
  Shape: () => DataType.INT64, Size: () => DataType.INT64, ArgMax: () => DataType.INT64, ArgMin: () => DataType.INT64, NonZero: () => DataType.INT64,
  Equal: () => DataType.BOOL, Less: () => DataType.BOOL, Greater: () => DataType.BOOL, LessOrEqual: () => DataType.BOOL, GreaterOrEqual: () => DataType.BOOL, Not: () => DataType.BOOL, And: () => DataType.BOOL, Or: () => DataType.BOOL, IsNaN: () => DataType.BOOL, IsInf: () => DataType.BOOL,
  Cast: (node) => num(node.attribute.find((a) => a.name === 'to')?.i),
  Constant: (node) => node.attribute.find((a) => a.name === 'value')?.t?.dataType,
};

const toHalf = (values: Float32Array): Uint16Array => {
  // Float16Array is Node 24's; its constructor rounds to nearest even, as numpy's astype(float16) does.
  const half = new Float16Array(values.length);
  half.set(values);
  return new Uint16Array(half.buffer);
};

export interface Float16Report {
  readonly convertedWeights: number;
  readonly keptInFloat32: string[];
}

export function convertToFloat16(model: Model): Float16Report {
  const graph = model.graph;
  if (graph.node.some((n) => (n.domain ?? '') !== '' && (n.domain ?? '') !== 'ai.onnx' && (n.domain ?? '') !== 'ai.onnx.ml')) throw new Error('fp16 conversion handles the ai.onnx and ai.onnx.ml domains only');
  const types = new Map<string, number>();
  for (const t of graph.initializer) types.set(t.name, t.dataType);
  for (const v of [...graph.input, ...graph.valueInfo]) if (v.type?.tensorType?.elemType !== undefined) types.set(v.name, v.type.tensorType.elemType);
  // Types before conversion, followed through the graph in order (ONNX graphs are topologically sorted).
  for (const node of graph.node) {
    const rule = OUTPUT_TYPE[node.opType];
    // Where's type is its branches' (input 1); the other ops' without a rule, their first input's.
    const type = rule !== undefined ? rule(node) : types.get(node.input[node.opType === 'Where' ? 1 : 0]);
    if ((node.domain ?? '') === 'ai.onnx.ml' && node.output.length > 1) {
      // Classifiers: labels first (int64 or string), then FP32 scores.
      types.set(node.output[1], DataType.FLOAT);
      continue;
    }
    for (const o of node.output) if (type !== undefined) types.set(o, type);
  }
  const isFloat = (name: string) => types.get(name) === DataType.FLOAT;
  const blocked = (node: Node) => BLOCKED.has(node.opType) || (node.domain ?? '') === 'ai.onnx.ml';

  let converted = 0;
  const weights = new Map<string, Tensor>();
  for (const t of graph.initializer) {
    if (t.dataType !== DataType.FLOAT) continue;
    // Weights read only by blocked ops stay FP32.
    const readers = graph.node.filter((n) => n.input.includes(t.name));
    if (readers.length > 0 && readers.every(blocked)) continue;
    weights.set(t.name, t);
  }
  graph.initializer = graph.initializer.map((t) => {
    if (!weights.has(t.name)) return t;
    converted++;
    return makeTensor(t.name, DataType.FLOAT16, t.dims.map(num), toHalf(floatValues(t)));
  });
  const nodes: Node[] = [];
  const kept: string[] = [];
  let unique = 0;
  const castTo = (name: string, to: number, label: string) => {
    const out = `${name}__${label}${unique++}`;
    nodes.push(makeNode('Cast', [name], [out], { to }, out));
    return out;
  };
  // Graph inputs: FP32 stays FP32 for clients; the graph reads an FP16 copy.
  const renamed = new Map<string, string>();
  for (const input of graph.input) if (isFloat(input.name) && !weights.has(input.name)) renamed.set(input.name, castTo(input.name, DataType.FLOAT16, 'fp16_'));
  const halfCopies = new Set(renamed.values());
  const keptFloat32 = new Set(graph.initializer.filter((t) => t.dataType === DataType.FLOAT).map((t) => t.name));
  /** FP16 once converted: converted weights, the inputs' copies, and what nodes compute from them. */
  const half = (name: string) => weights.has(name) || halfCopies.has(name) || (isFloat(name) && !keptFloat32.has(name) && !renamed.has(name));
  for (const node of graph.node) {
    node.input = node.input.map((i) => renamed.get(i) ?? i);
    if (blocked(node)) {
      kept.push(node.name || node.output[0]);
      node.input = node.input.map((i, index) => (i !== '' && half(i) ? castTo(i, DataType.FLOAT, `fp32_${index}_`) : i));
      nodes.push(node);
      // Its FP32 outputs go back to FP16 for the rest of the graph.
      for (const [index, o] of node.output.entries()) {
        if (!isFloat(o)) continue;
        const fp32 = `${o}__fp32_out${unique++}`;
        node.output[index] = fp32;
        nodes.push(makeNode('Cast', [fp32], [o], { to: DataType.FLOAT16 }, `${o}__fp16_cast${unique++}`));
      }
      continue;
    }
    if (node.opType === 'Cast' && num(node.attribute.find((a) => a.name === 'to')?.i) === DataType.FLOAT) node.attribute = node.attribute.map((a) => (a.name === 'to' ? { ...a, i: DataType.FLOAT16 } : a));
    for (const a of node.attribute) if (a.t !== undefined && a.t.dataType === DataType.FLOAT && ++converted) a.t = makeTensor(a.t.name ?? '', DataType.FLOAT16, a.t.dims.map(num), toHalf(floatValues(a.t)));
    nodes.push(node);
  }
  // Graph outputs: the graph writes FP16, a cast gives clients FP32 under the same name.
  for (const output of graph.output) {
    if (!isFloat(output.name)) continue;
    const inner = `${output.name}__fp16${unique++}`;
    for (const node of nodes) node.output = node.output.map((o) => (o === output.name ? inner : o));
    for (const node of nodes) node.input = node.input.map((i) => (i === output.name ? inner : i));
    nodes.push(makeNode('Cast', [inner], [output.name], { to: DataType.FLOAT }, `${output.name}__fp32_cast${unique++}`));
  }
  graph.node = nodes;
  // Intermediate value types changed: onnxruntime infers them again.
  graph.valueInfo = [];
  if (converted === 0 && nodes.every((n) => n.opType === 'Cast' || kept.includes(n.name || n.output[0]))) throw new Error('nothing to convert: every op of the model stays in FP32');
  return { convertedWeights: converted, keptInFloat32: kept };

}
