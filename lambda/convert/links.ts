/**
 * From the ensemble's margin [N, K] to the model's outputs: the objective's link (inverse link) and the
 * task's output names (CONVERSION-CONTRACT.md, "The ONNX model's signature"). Each link is written as the
 * native library computes it, operation by operation, so that FP64 results agree to the last bits
 * (LightGBM src/objective/*.hpp ConvertOutput; XGBoost src/objective/regression_loss.h PredTransform).
 */
import type { OutputRecord } from './record.ts';
import type { ElementType, GraphBuilder, GraphOutput } from './onnx/graph.ts';

export type Link =
  | { readonly kind: 'identity' }
  /** 1 / (1 + exp(-scale·x)). */
  | { readonly kind: 'sigmoid'; readonly scale?: number }
  /** Row-wise softmax over the K columns. */
  | { readonly kind: 'softmax' }
  | { readonly kind: 'exp' }
  /** sign(x)·x·x: LightGBM regression with `reg_sqrt`. */
  | { readonly kind: 'sign-square' }
  /** log1p(exp(x)): LightGBM cross_entropy_lambda. */
  | { readonly kind: 'log1p-exp' }
  /** 1 where x > 0, else 0: XGBoost binary:hinge. */
  | { readonly kind: 'hinge' }
  /** Column 0 as is, then column j = column j-1 + (epsilon + softplus(x_j)), summed left to right: XGBoost reg:expectileerror. */
  | { readonly kind: 'cumulative-softplus'; readonly epsilon: number };

export const linkName = (link: Link): string => (link.kind === 'sigmoid' && link.scale !== undefined && link.scale !== 1 ? `sigmoid(${link.scale}·x)` : link.kind);

export type Head =
  /** `prediction` [N, K] = link(margin). */
  | { readonly task: 'regression' | 'ranking'; readonly link: Link }
  /**
   * One margin column, the positive class's probability: `probabilities` [N, 2] = [1 - p, p], label = p > 0.5.
   * With `margin`, the raw margin is what the library predicts (XGBoost binary:logitraw): it is also an
   * output, `margin` [N, 1], and the label is margin > 0 (the logit's own decision).
   */
  | { readonly task: 'classification'; readonly classes: 2; readonly link: Link; readonly binary: true; readonly margin?: boolean }
  /**
   * K margin columns, one per class: `probabilities` = link(margin), label = the first column holding the
   * maximum probability, or with `labelFromMargin` the maximum margin (XGBoost multi:softmax predicts the
   * margin's argmax, which two probabilities rounded equal would not tell apart).
   */
  | { readonly task: 'classification'; readonly classes: number; readonly link: Link; readonly binary?: false; readonly labelFromMargin?: boolean };

export function applyLink(g: GraphBuilder, x: string, link: Link, t: ElementType): string {
  switch (link.kind) {
    case 'identity':
      return x;
    case 'sigmoid': {
      const scaled = link.scale === undefined || link.scale === 1 ? x : g.op('Mul', [g.scalar(t, link.scale), x]);
      return g.op('Div', [g.scalar(t, 1), g.op('Add', [g.scalar(t, 1), g.op('Exp', [g.op('Neg', [scaled])])])]);
    }
    case 'softmax':
      return g.op('Softmax', [x], { axis: { int: -1 } });
    case 'exp':
      return g.op('Exp', [x]);
    case 'sign-square':
      return g.op('Mul', [g.op('Mul', [g.op('Sign', [x]), x]), x]);
    case 'log1p-exp': {
      // ONNX has no log1p (and onnxruntime no double Softplus): Kahan's log1p(u) = u·log(w)/(w − 1), w = 1 + u,
      // accurate to a few ulps where log(1 + u) would lose u's digits (Goldberg, "What every computer
      // scientist should know about floating-point arithmetic", theorem 4).
      const u = g.op('Exp', [x]);
      const w = g.op('Add', [g.scalar(t, 1), u]);
      const ratio = g.op('Mul', [u, g.op('Div', [g.op('Log', [w]), g.op('Sub', [w, g.scalar(t, 1)])])]);
      // exp overflowing to +inf: log1p(inf) is inf, where the ratio would be inf/inf.
      const small = g.op('Where', [g.op('Equal', [w, g.scalar(t, 1)]), u, ratio]);
      return g.op('Where', [g.op('IsInf', [u]), u, small]);
    }
    case 'cumulative-softplus': {
      const slice = (from: number, to: number) => g.op('Slice', [x, g.constant('INT64', [1], [from]), g.constant('INT64', [1], [to]), g.constant('INT64', [1], [1])]);
      const big = 2 ** 62;
      const steps = g.op('Add', [g.scalar(t, link.epsilon), g.op('Softplus', [slice(1, big)])]);
      return g.op('CumSum', [g.op('Concat', [slice(0, 1), steps], { axis: { int: 1 } }), g.scalar('INT64', 1)]);
    }
    case 'hinge':
      return g.op('Cast', [g.op('Greater', [x, g.scalar(t, 0)])], { to: { int: t === 'FP32' ? 1 : 11 } });
  }
}

/** Adds the outputs; returns them for the graph and for conversion.json. */
export function emitHead(g: GraphBuilder, margin: string, head: Head, t: ElementType, targets: number): { graph: GraphOutput[]; record: OutputRecord[] } {
  if (head.task !== 'classification') {
    g.output(applyLink(g, margin, head.link, t), 'prediction');
    return { graph: [{ name: 'prediction', type: t, shape: [-1, targets] }], record: [{ name: 'prediction', datatype: t, shape: [-1, targets] }] };
  }
  const p = applyLink(g, margin, head.link, t);
  let label: string;
  const extra: { graph: GraphOutput[]; record: OutputRecord[] } = { graph: [], record: [] };
  if (head.binary === true) {
    g.op('Concat', [g.op('Sub', [g.scalar(t, 1), p]), p], { axis: { int: 1 } }, { output: 'probabilities' });
    label = g.op('Cast', [head.margin === true ? g.op('Greater', [margin, g.scalar(t, 0)]) : g.op('Greater', [p, g.scalar(t, 0.5)])], { to: { int: 7 } });
    if (head.margin === true) {
      g.output(margin, 'margin');
      extra.graph.push({ name: 'margin', type: t, shape: [-1, 1] });
      extra.record.push({ name: 'margin', datatype: t, shape: [-1, 1] });
    }
    label = g.op('Reshape', [label, g.constant('INT64', [1], [-1])]);
  } else {
    g.output(p, 'probabilities');
    label = g.op('ArgMax', [head.labelFromMargin === true ? margin : p], { axis: { int: 1 }, keepdims: { int: 0 }, select_last_index: { int: 0 } });
  }
  g.output(label, 'label');
  const classes = head.classes;
  return {
    graph: [{ name: 'label', type: 'INT64', shape: [-1] }, { name: 'probabilities', type: t, shape: [-1, classes] }, ...extra.graph],
    record: [{ name: 'label', datatype: 'INT64', shape: [-1] }, { name: 'probabilities', datatype: t, shape: [-1, classes] }, ...extra.record],
  };
}
