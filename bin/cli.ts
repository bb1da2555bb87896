#!/usr/bin/env node
/**
 * modelship <command>: operations from the terminal.
 *   ab-report --model NAME (--events FILE | --cloudwatch [--hours 24]) [--control V] [--alpha 0.05] [--power 0.8] [--mde 0.02]
 *   rollback --model NAME --to VERSION [--models-dir models]
 */
import { parseArgs } from 'node:util';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { armsFromCloudWatch, armsFromEventsFile, formatAbReport } from '../lambda/analysis/ab-report.ts';
import { pinVersion } from '../lambda/analysis/rollback.ts';

const USAGE = `usage:
  modelship ab-report --model NAME (--events FILE | --cloudwatch [--hours 24]) [--control V] [--alpha 0.05] [--power 0.8] [--mde 0.02]
  modelship rollback --model NAME --to VERSION [--models-dir models]`;

function number(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got "${value}"`);
  return n;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      model: { type: 'string' }, events: { type: 'string' }, cloudwatch: { type: 'boolean' }, hours: { type: 'string' },
      control: { type: 'string' }, alpha: { type: 'string' }, power: { type: 'string' }, mde: { type: 'string' },
      to: { type: 'string' }, 'models-dir': { type: 'string' },
    },
    strict: true,
  });
  if (command === 'ab-report') {
    if (!values.model) throw new Error('ab-report needs --model');
    if (!values.events === !values.cloudwatch) throw new Error('ab-report needs either --events FILE or --cloudwatch');
    const hours = number(values.hours, 'hours', 24);
    const arms = values.events
      ? await armsFromEventsFile(values.events, values.model)
      : await armsFromCloudWatch(new CloudWatchClient({}), values.model, new Date(Date.now() - hours * 3_600_000), new Date());
    console.log(formatAbReport(values.model, arms, { control: values.control, alpha: number(values.alpha, 'alpha', 0.05), power: number(values.power, 'power', 0.8), minimumDetectableEffect: number(values.mde, 'mde', 0.02) }));
  } else if (command === 'rollback') {
    if (!values.model || !values.to) throw new Error('rollback needs --model and --to');
    const version = Number(values.to);
    if (!Number.isInteger(version) || version < 1) throw new Error(`--to must be a positive integer version, got "${values.to}"`);
    const file = pinVersion(values['models-dir'] ?? 'models', values.model, version);
    console.log(`${file}: versionPolicy pinned to ${version}. Run \`npx cdk deploy\` to ship it (CodeDeploy shifts traffic back).`);
  } else {
    throw new Error(command === undefined ? 'no command given' : `unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).catch((error: Error) => {
  console.error(`modelship: ${error.message}\n${USAGE}`);
  process.exit(2);
});
