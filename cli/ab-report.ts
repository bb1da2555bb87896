/** Inputs and output of `modelship ab-report`: per-version feedback counts from a file or CloudWatch, and the report text. */
import { readFile } from 'node:fs/promises';
import { CloudWatchClient, GetMetricDataCommand, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { MetricName, METRICS_NAMESPACE, versionDimensions } from '../lambda/observability/metrics.ts';
import { armsFromEvents, sampleSizePerArm, twoProportionZTest, type Arm } from './ab-test.ts';

/** Counts from a feedback events file (JSON Lines of {model, version, outcome}), for one model. */
export async function armsFromEventsFile(file: string, model: string): Promise<Arm[]> {
  const text = await readFile(file, 'utf8');
  const events = text
    .split('\n')
    .map((line, index) => ({ line: line.trim(), index }))
    .filter(({ line }) => line !== '')
    .map(({ line, index }) => {
      let event: { model?: string; version?: number | string; outcome?: number };
      try {
        event = JSON.parse(line);
      } catch {
        throw new Error(`${file}:${index + 1}: not valid JSON`);
      }
      if (event.version === undefined || (event.outcome !== 0 && event.outcome !== 1)) throw new Error(`${file}:${index + 1}: needs "version" and "outcome" (0 or 1)`);
      return event as { model?: string; version: number | string; outcome: number };
    })
    .filter((event) => event.model === undefined || event.model === model);
  return armsFromEvents(events);
}

/** Counts from the FeedbackEvents and FeedbackPositive metrics the functions publish, summed over [start, end). */
export async function armsFromCloudWatch(client: CloudWatchClient, model: string, start: Date, end: Date): Promise<Arm[]> {
  const listed = await client.send(new ListMetricsCommand({ Namespace: METRICS_NAMESPACE, MetricName: MetricName.feedbackEvents, Dimensions: [{ Name: 'Model', Value: model }] }));
  const versions = [...new Set((listed.Metrics ?? []).flatMap((m) => m.Dimensions ?? []).filter((d) => d.Name === 'Version').map((d) => d.Value!))].sort((a, b) => Number(a) - Number(b));
  const period = Math.max(60, Math.ceil((end.getTime() - start.getTime()) / 1000 / 60) * 60);
  const queries = versions.flatMap((version, i) =>
    [MetricName.feedbackEvents, MetricName.feedbackPositive].map((metricName, j) => ({
      Id: `m${i}_${j}`,
      MetricStat: {
        Metric: { Namespace: METRICS_NAMESPACE, MetricName: metricName, Dimensions: Object.entries(versionDimensions(model, version)).map(([Name, Value]) => ({ Name, Value })) },
        Period: period,
        Stat: 'Sum',
      },
    })),
  );
  if (queries.length === 0) return [];
  const data = await client.send(new GetMetricDataCommand({ StartTime: start, EndTime: end, MetricDataQueries: queries }));
  const sum = (id: string) => (data.MetricDataResults ?? []).find((r) => r.Id === id)?.Values?.reduce((a, b) => a + b, 0) ?? 0;
  return versions.map((version, i) => ({ version, n: sum(`m${i}_0`), positives: sum(`m${i}_1`) }));
}

export interface AbReportOptions {
  readonly alpha?: number;
  readonly power?: number;
  /** Absolute change in rate to size the test for. @default 0.02 */
  readonly minimumDetectableEffect?: number;
  /** The version compared against. @default the lowest version */
  readonly control?: string;
}

/** The report: per-version rates, and each other version's z-test against the control. */
export function formatAbReport(model: string, arms: Arm[], options: AbReportOptions = {}): string {
  if (arms.length < 2) throw new Error(`model ${model} has feedback for ${arms.length === 0 ? 'no version' : `version ${arms[0].version} only`}; an A/B report needs two`);
  const alpha = options.alpha ?? 0.05;
  const mde = options.minimumDetectableEffect ?? 0.02;
  const control = arms.find((a) => a.version === (options.control ?? arms[0].version));
  if (control === undefined) throw new Error(`control version ${options.control} has no feedback; versions with feedback: ${arms.map((a) => a.version).join(', ')}`);
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const lines = [`A/B report for ${model} (two-sided, alpha ${alpha})`, '', 'version        n  positives      rate'];
  for (const arm of arms) lines.push(`${arm.version.padStart(7)} ${String(arm.n).padStart(8)} ${String(arm.positives).padStart(10)} ${pct(arm.positives / arm.n).padStart(9)}`);
  for (const arm of arms.filter((a) => a !== control)) {
    const t = twoProportionZTest(control, arm, alpha);
    const baseline = Math.min(Math.max(t.a.rate, 0.001), 0.999 - mde);
    lines.push(
      '',
      `version ${arm.version} vs ${control.version}: difference ${pct(t.difference)}, z = ${t.z.toFixed(4)}, p = ${t.pValue.toPrecision(4)}`,
      `  ${Math.round(100 * t.confidenceLevel)}% confidence interval of the difference: [${pct(t.confidenceInterval[0])}, ${pct(t.confidenceInterval[1])}]`,
      `  ${t.significant ? 'significant' : 'not significant'} at alpha ${alpha}`,
      `  events per version to detect ${pct(mde)} from ${pct(baseline)} with power ${options.power ?? 0.8}: ${sampleSizePerArm(baseline, mde, alpha, options.power ?? 0.8)}`,
    );
  }
  return lines.join('\n');
}
