/**
 * What `modelship optimize` recorded in a version's optimization.json (cli/optimize/optimize.ts's
 * report extends RecordedOptimization), as the local console shows it: the optimized version against
 * its source. The file sits in the model repository, where anyone can edit it, so it is read back
 * through a schema and a bad one is named, never trusted.
 */
import * as z from 'zod/mini';
import { schemaProblems } from './config.ts';
import { describeError } from './errors.ts';
import type { ModelEntry } from './catalog.ts';
import type { ModelSource } from './model-source.ts';

export const OPTIMIZATION_FILE = 'optimization.json';

const finite = () => z.number().check(z.refine(Number.isFinite, 'a finite number'));
const version = () => z.int().check(z.positive());
const pair = () => z.object({ source: finite(), result: finite(), ratio: finite() });
const metricValues = () => z.record(z.string(), finite());

/** The fields of optimization.json that the console shows (the file holds more: tolerance, per-node details). */
export const recordedOptimizationSchema = z.object({
  model: z.string(),
  from: version(),
  version: version(),
  optimization: z.string(),
  graphLevel: z.optional(z.string()),
  createdAt: z.string(),
  bytes: pair(),
  /** Median single-row session.run, microseconds, one intra-op thread. */
  latencyMicros: pair(),
  /** On the golden inputs: largest absolute difference per output, result against source. */
  maxAbsDifference: z.record(z.string(), finite()),
  metrics: z.object({ source: metricValues(), result: metricValues(), delta: metricValues() }),
  quantization: z.optional(
    z.object({
      quantized: z.array(z.object({ node: z.string(), op: z.string(), as: z.string() })),
      skipped: z.array(z.object({ node: z.string(), op: z.string(), why: z.string() })),
      opsetRaisedFrom: z.optional(version()),
    }),
  ),
  float16: z.optional(z.object({ convertedWeights: z.int(), keptInFloat32: z.array(z.string()) })),
  warnings: z.array(z.string()),
});

export type RecordedOptimization = z.infer<typeof recordedOptimizationSchema>;

/** One optimized version as the console shows it, or why its record cannot be shown. */
export type OptimizationView =
  | (Omit<RecordedOptimization, 'model' | 'quantization' | 'float16'> & {
      /** How many nodes of each op were quantized, and how. */
      readonly quantized: { readonly op: string; readonly as: string; readonly count: number }[];
      /** What stayed in FP32, and why. */
      readonly keptInFloat32: string[];
      readonly opsetRaisedFrom?: number;
    })
  | { readonly version: number; readonly problem: string };

/** Quantized nodes counted by op and by how (53 convolutions are one line, not 53). */
export function quantizedByOp(nodes: readonly { op: string; as: string }[]): { op: string; as: string; count: number }[] {
  const counts = new Map<string, { op: string; as: string; count: number }>();
  for (const { op, as } of nodes) {
    const key = `${op}\u0000${as}`;
    const entry = counts.get(key) ?? { op, as, count: 0 };
    entry.count++;
    counts.set(key, entry);
  }
  return [...counts.values()];
}

/** The console's view of a record: node lists summarised, the model's own name checked. */
export function optimizationView(model: string, version: number, value: unknown): OptimizationView {
  const parsed = z.safeParse(recordedOptimizationSchema, value);
  if (!parsed.success) return { version, problem: `${OPTIMIZATION_FILE} is not a modelship optimize report: ${schemaProblems(parsed.error)}` };
  const { model: recordedModel, quantization, float16, ...rest } = parsed.data;
  if (recordedModel !== model || rest.version !== version) return { version, problem: `${OPTIMIZATION_FILE} describes ${recordedModel} version ${rest.version}, not this folder's ${model} version ${version}` };
  return {
    ...rest,
    quantized: quantizedByOp(quantization?.quantized ?? []),
    keptInFloat32: quantization?.skipped.map((s) => `${s.node} (${s.op}: ${s.why})`) ?? float16?.keptInFloat32 ?? [],
    ...(quantization?.opsetRaisedFrom !== undefined ? { opsetRaisedFrom: quantization.opsetRaisedFrom } : {}),
  };
}

/**
 * Every version of a model that `modelship optimize` wrote, as the console shows it: read only for the
 * versions whose listing holds optimization.json (and not for versions this deployment refuses).
 */
export async function readOptimizations(source: ModelSource, entry: ModelEntry): Promise<OptimizationView[]> {
  const refused = new Set(entry.undeployed ?? []);
  const versions = entry.versions.filter((v) => !refused.has(v) && entry.files?.get(v)?.has(OPTIMIZATION_FILE) === true);
  return Promise.all(
    versions.map(async (version) => {
      try {
        const bytes = await source.readFile(`${entry.name}/${version}/${OPTIMIZATION_FILE}`);
        if (bytes === undefined) return { version, problem: `${OPTIMIZATION_FILE} was listed but is gone` };
        return optimizationView(entry.name, version, JSON.parse(Buffer.from(bytes).toString('utf8')));
      } catch (error) {
        return { version, problem: `${OPTIMIZATION_FILE} cannot be read: ${describeError(error)}` };
      }
    }),
  );
}
