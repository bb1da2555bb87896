/**
 * NeuralNetwork (PMML 4.4, "Neural Network Models"): NeuralInputs (each a DerivedField: NormContinuous,
 * FieldRef, NormDiscrete, ...), layers of neurons (bias + Σ weight·input, then the layer's or the
 * model's activationFunction, then its normalizationMethod), and NeuralOutputs mapping output neurons
 * to the target: NormDiscrete (classification: the neuron is that class's probability), FieldRef or
 * NormContinuous (regression, the latter inverted). Each layer is one MatMul over the values before it.
 */
import { PmmlError } from './errors.ts';
import type { GraphBuilder } from './graph.ts';
import { atan } from './links.ts';
import type { Result } from './models.ts';
import { expressionVal, numeric, type Scope, EXPRESSIONS } from './scope.ts';
import { attr, child, childrenNamed, numberAttr, type Element } from './xml.ts';

const ACTIVATIONS: Record<string, (g: GraphBuilder, z: string, layer: Element) => string> = {
  identity: (_g, z) => z,
  logistic: (g, z) => g.div(g.scalar(1), g.add(g.scalar(1), g.exp(g.neg(z)))),
  tanh: (g, z) => g.op('Tanh', [z]),
  rectifier: (g, z) => g.op('Max', [z, g.scalar(0)]),
  exponential: (g, z) => g.exp(z),
  reciprocal: (g, z) => g.div(g.scalar(1), z),
  square: (g, z) => g.mul(z, z),
  Gauss: (g, z) => g.exp(g.neg(g.mul(z, z))),
  sine: (g, z) => g.op('Sin', [z]),
  cosine: (g, z) => g.op('Cos', [z]),
  Elliott: (g, z) => g.div(z, g.add(g.scalar(1), g.op('Abs', [z]))),
  arctan: (g, z) => g.mul(atan(g, z), g.scalar(2 / Math.PI)),
  threshold: (g, z, layer) => g.compare('Greater', z, g.scalar(numberAttr(layer, 'threshold', 0))),
};

export function neuralNetwork(e: Element, scope: Scope, fn: 'regression' | 'classification', classes: readonly string[]): Result {
  const { ctx } = scope;
  const { g } = ctx;
  const inputs = child(e, 'NeuralInputs');
  if (inputs === undefined) throw new PmmlError(`<NeuralNetwork> (line ${e.line}) has no NeuralInputs`);
  const columns = new Map<string, { tensor: string; index: number }>();
  const layerValues: string[] = [];
  // Inputs: one [N, k] block.
  const inputIds: string[] = [];
  const inputTensors: string[] = [];
  for (const input of childrenNamed(inputs, 'NeuralInput')) {
    const id = attr(input, 'id');
    const derived = child(input, 'DerivedField');
    const expression = derived?.children.find((c) => EXPRESSIONS.has(c.name));
    if (expression === undefined) throw new PmmlError(`<NeuralInput id="${id}"> (line ${input.line}) has no DerivedField expression`);
    inputIds.push(id);
    inputTensors.push(numeric(ctx, expressionVal(scope, expression)));
  }
  if (inputIds.length === 0) throw new PmmlError(`<NeuralNetwork> (line ${e.line}) has no NeuralInput`);
  let block = g.concat(inputTensors);
  inputIds.forEach((id, i) => columns.set(id, { tensor: block, index: i }));
  layerValues.push(block);
  let blockIds = inputIds;
  const layers = childrenNamed(e, 'NeuralLayer');
  if (layers.length === 0) throw new PmmlError(`<NeuralNetwork> (line ${e.line}) has no NeuralLayer`);
  layers.forEach((layer, l) => {
    const neurons = childrenNamed(layer, 'Neuron');
    if (neurons.length === 0) throw new PmmlError(`<NeuralLayer> (line ${layer.line}) has no Neuron`);
    // The weights from the block before this layer, when every connection comes from it; else from every value so far.
    const fromPrevious = neurons.every((n) => childrenNamed(n, 'Con').every((c) => blockIds.includes(attr(c, 'from'))));
    let source = block;
    let sourceIds = blockIds;
    if (!fromPrevious) {
      sourceIds = [...columns.keys()];
      source = g.concat(layerValues);
    }
    const W = new Float64Array(sourceIds.length * neurons.length);
    const position = new Map(sourceIds.map((id, i) => [id, i]));
    const bias = neurons.map((n) => numberAttr(n, 'bias', 0));
    neurons.forEach((n, j) => {
      for (const con of childrenNamed(n, 'Con')) {
        const from = attr(con, 'from');
        const row = position.get(from);
        if (row === undefined) throw new PmmlError(`<Con from="${from}"> (line ${con.line}) names no earlier neuron or input`);
        W[row * neurons.length + j] += numberAttr(con, 'weight');
      }
    });
    const z = g.add(g.matmul(source, g.constant(W, [sourceIds.length, neurons.length])), g.constant(bias, [1, neurons.length]));
    const name = layer.attrs.activationFunction ?? e.attrs.activationFunction ?? 'identity';
    const activation = ACTIVATIONS[name];
    if (activation === undefined) throw new PmmlError(`<NeuralLayer> (line ${layer.line}) has activationFunction "${name}"; the converter takes ${Object.keys(ACTIVATIONS).join(', ')} (radialBasis is not supported)`);
    if (name === 'threshold' && layer.attrs.threshold === undefined && e.attrs.threshold !== undefined) throw new PmmlError('a model-level threshold is not supported; set it on the layer');
    let out = activation(g, z, layer);
    const last = l === layers.length - 1;
    const normalization = layer.attrs.normalizationMethod ?? (last ? e.attrs.normalizationMethod : undefined) ?? 'none';
    if (normalization === 'softmax') {
      const shifted = g.exp(g.sub(out, g.reduce('ReduceMax', out, [1])));
      out = g.div(shifted, g.reduce('ReduceSum', shifted, [1]));
    } else if (normalization === 'simplemax') {
      out = g.div(out, g.reduce('ReduceSum', out, [1]));
    } else if (normalization !== 'none') {
      throw new PmmlError(`<NeuralLayer> (line ${layer.line}) has normalizationMethod "${normalization}"; PMML knows none, simplemax and softmax`);
    }
    block = out;
    blockIds = neurons.map((n) => attr(n, 'id'));
    blockIds.forEach((id, i) => columns.set(id, { tensor: out, index: i }));
    layerValues.push(out);
  });
  const outputs = child(e, 'NeuralOutputs');
  if (outputs === undefined) throw new PmmlError(`<NeuralNetwork> (line ${e.line}) has no NeuralOutputs`);
  const valueOf = (id: string, where: Element): string => {
    const c = columns.get(id);
    if (c === undefined) throw new PmmlError(`<NeuralOutput outputNeuron="${id}"> (line ${where.line}) names no neuron`);
    return g.column(c.tensor, c.index);
  };
  if (fn === 'classification') {
    const byClass = new Map<string, string>();
    for (const o of childrenNamed(outputs, 'NeuralOutput')) {
      const norm = child(child(o, 'DerivedField') ?? o, 'NormDiscrete');
      if (norm === undefined) throw new PmmlError(`<NeuralOutput> (line ${o.line}) of a classification network needs a NormDiscrete naming its class`);
      byClass.set(attr(norm, 'value'), valueOf(attr(o, 'outputNeuron'), o));
    }
    const probs = g.concat(classes.map((c) => {
      const t = byClass.get(c);
      if (t === undefined) throw new PmmlError(`the NeuralOutputs give no neuron for class "${c}"`);
      return t;
    }));
    const index = g.toDouble(g.op('ArgMax', [probs], { axis: 1, keepdims: 1 }));
    return { kind: 'classification', probs, label: g.nanWhere(g.isNaN(g.reduce('ReduceSum', probs, [1])), index), classes };
  }
  const list = childrenNamed(outputs, 'NeuralOutput');
  if (list.length !== 1) throw new PmmlError(`a regression <NeuralNetwork> (line ${e.line}) has ${list.length} NeuralOutputs; the converter takes one`);
  const o = list[0];
  const y = valueOf(attr(o, 'outputNeuron'), o);
  const derived = child(o, 'DerivedField');
  const expression = derived?.children.find((c) => EXPRESSIONS.has(c.name));
  if (expression === undefined || expression.name === 'FieldRef') return { kind: 'regression', value: y };
  if (expression.name !== 'NormContinuous') throw new PmmlError(`<NeuralOutput> (line ${o.line}) maps its neuron with <${expression.name}>; the converter takes FieldRef and NormContinuous`);
  // The target was normalized: invert the piecewise-linear map (norm → orig).
  const points = childrenNamed(expression, 'LinearNorm').map((p) => ({ o: numberAttr(p, 'orig'), n: numberAttr(p, 'norm') }));
  if (points.length < 2) throw new PmmlError(`<NormContinuous> (line ${expression.line}) needs at least two LinearNorm points`);
  const segment = (i: number): string => {
    const a = points[i];
    const b = points[i + 1];
    return g.add(g.scalar(a.o), g.mul(g.div(g.sub(y, g.scalar(a.n)), g.scalar(b.n - a.n)), g.scalar(b.o - a.o)));
  };
  let value = segment(points.length - 2);
  for (let i = points.length - 3; i >= 0; i--) value = g.where(g.op('LessOrEqual', [y, g.scalar(points[i + 1].n)]), segment(i), value);
  return { kind: 'regression', value };
}
