/**
 * Scorecard (PMML 4.4, "Scorecard"): score = initialScore + Σ over Characteristics of the partialScore
 * of its first Attribute whose predicate is true (a ComplexPartialScore computes it). Reason codes:
 * each characteristic's points against its baselineScore (pointsBelow: baseline - partial; pointsAbove:
 * partial - baseline) are summed per reason code (the Attribute's, else the Characteristic's) and the
 * codes that cost points (a positive sum) ranked by those points, most first (ties keep the order the
 * codes first appear in); the rest of the `reason_codes` row is empty strings.
 * A characteristic where no attribute applies gives no score (NaN).
 */
import { PmmlError } from './errors.ts';
import { PredicateTable } from './predicates.ts';
import { expressionVal, EXPRESSIONS, numeric, type Scope } from './scope.ts';
import { child, childrenNamed, numberAttr, type Element } from './xml.ts';

export interface ScorecardResult {
  readonly kind: 'scorecard';
  /** [N, 1] DOUBLE. */
  readonly score: string;
  /** [N, K] INT64: indices into `reasonCodes`, ranked; K (past the list) for no reason. */
  readonly ranking: string;
  readonly reasonCodes: readonly string[];
}

export function scorecard(e: Element, scope: Scope): ScorecardResult {
  const { ctx } = scope;
  const { g } = ctx;
  const characteristics = childrenNamed(child(e, 'Characteristics') ?? e, 'Characteristic');
  if (characteristics.length === 0) throw new PmmlError(`<Scorecard> (line ${e.line}) has no Characteristics`);
  const useReasonCodes = e.attrs.useReasonCodes !== 'false';
  const algorithm = e.attrs.reasonCodeAlgorithm ?? 'pointsBelow';
  if (algorithm !== 'pointsBelow' && algorithm !== 'pointsAbove') throw new PmmlError(`<Scorecard> (line ${e.line}) has reasonCodeAlgorithm "${algorithm}"; PMML knows pointsAbove and pointsBelow`);
  const codes: string[] = [];
  const table = new PredicateTable(ctx);
  const plan = characteristics.map((c) => {
    const attributes = childrenNamed(c, 'Attribute');
    if (attributes.length === 0) throw new PmmlError(`<Characteristic name="${c.attrs.name ?? ''}"> (line ${c.line}) has no Attribute`);
    const baseline = c.attrs.baselineScore !== undefined ? numberAttr(c, 'baselineScore') : e.attrs.baselineScore !== undefined ? numberAttr(e, 'baselineScore') : undefined;
    if (useReasonCodes && baseline === undefined) throw new PmmlError(`<Characteristic name="${c.attrs.name ?? ''}"> (line ${c.line}) has no baselineScore (nor has the Scorecard), which reason codes need`);
    return {
      baseline: baseline ?? 0,
      attributes: attributes.map((a) => {
        const code = a.attrs.reasonCode ?? c.attrs.reasonCode;
        if (useReasonCodes && code === undefined) throw new PmmlError(`an <Attribute> (line ${a.line}) has no reasonCode (nor has its Characteristic)`);
        if (code !== undefined && !codes.includes(code)) codes.push(code);
        const complex = child(a, 'ComplexPartialScore');
        const expression = complex?.children.find((x) => EXPRESSIONS.has(x.name));
        if (complex !== undefined && expression === undefined) throw new PmmlError(`<ComplexPartialScore> (line ${complex.line}) has no expression`);
        if (complex === undefined && a.attrs.partialScore === undefined) throw new PmmlError(`an <Attribute> (line ${a.line}) has neither partialScore nor ComplexPartialScore`);
        return {
          ref: table.add(scope, PredicateTable.of(a)),
          partial: expression !== undefined ? numeric(ctx, expressionVal(scope, expression)) : g.scalar(numberAttr(a, 'partialScore')),
          code,
        };
      }),
    };
  });
  const { T } = table.evaluate(plan.flatMap((p) => p.attributes.map((a) => a.ref)));
  let score = g.scalar(numberAttr(e, 'initialScore', 0));
  const points = codes.map(() => g.scalar(0));
  let column = 0;
  let unmatched: string | undefined;
  for (const p of plan) {
    // The first attribute whose predicate is true: walk from the last, each true one overriding.
    let partial = g.scalar(NaN);
    let code = g.scalar(-1);
    for (let i = p.attributes.length - 1; i >= 0; i--) {
      const isTrue = g.toBool(g.column(T, column + i));
      partial = g.where(isTrue, p.attributes[i].partial, partial);
      code = g.where(isTrue, g.scalar(p.attributes[i].code === undefined ? -1 : codes.indexOf(p.attributes[i].code!)), code);
    }
    column += p.attributes.length;
    const missing = g.isNaN(partial);
    unmatched = unmatched === undefined ? missing : g.op('Or', [unmatched, missing]);
    score = g.add(score, partial);
    const difference = algorithm === 'pointsBelow' ? g.sub(g.scalar(p.baseline), partial) : g.sub(partial, g.scalar(p.baseline));
    codes.forEach((_, k) => {
      points[k] = g.add(points[k], g.where(g.op('Equal', [code, g.scalar(k)]), difference, g.scalar(0)));
    });
  }
  score = g.nanWhere(unmatched!, score);
  let ranking: string;
  if (codes.length === 0) {
    ranking = g.op('Cast', [g.op('Slice', [g.column(g.input, 0), g.int64([0]), g.int64([0]), g.int64([1])])], { to: 7 });
  } else {
    // TopK keeps equal values in index order (ONNX: the lower index first), so ties rank by first appearance.
    const all = g.concat(points);
    const [values, indices] = g.opN('TopK', [all, g.int64([codes.length])], 2, { axis: 1, largest: 1, sorted: 1 });
    // Only codes that cost points are reasons (as JPMML-Evaluator ranks them); the rest point past the list (an empty name).
    ranking = g.where(g.op('Greater', [values, g.scalar(0)]), indices, g.int64([codes.length], []));
  }
  return { kind: 'scorecard', score, ranking, reasonCodes: codes };
}
