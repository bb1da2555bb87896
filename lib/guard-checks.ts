/**
 * AWS Control Tower's proactive controls, run by cfn-guard at synth as a CDK policy-validation
 * plugin (@cdklabs/cdk-validator-cfnguard, which bundles the cfn-guard binary and the rule files).
 * A finding stops `cdk synth` unless it is acknowledged next to its construct:
 * `Validations.of(construct).acknowledge({ id: guardFinding('rule_name'), reason })`.
 *
 * Two things the bundled plugin does not do are done here: nested stacks' templates are checked
 * with their parent's, and only the rule files that name a resource type present in the templates
 * run. A rule file only ever reports on the types it names, so the others would pass (SKIP); left
 * in, they cost cfn-guard about 40 ms each per template (the samples: 14 s for 237 files, 4 s
 * for the 27 that apply).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { IPolicyValidationContext, IPolicyValidationPlugin, PolicyValidationPluginReport } from 'aws-cdk-lib';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';

/** The plugin's name: acknowledgement ids are `<name>::<guard rule name>`. */
export const GUARD_PLUGIN_NAME = 'cdk-validator-cfnguard';

const PACKAGE_DIR = join(dirname(createRequire(import.meta.url).resolve('@cdklabs/cdk-validator-cfnguard')), '..');
/** The Control Tower proactive controls the package bundles, one .guard file each. */
export const CONTROL_TOWER_RULES_DIR = join(PACKAGE_DIR, 'rules', 'control-tower', 'cfn-guard');
/** The cfn-guard binary the package bundles for this platform. */
export const CFN_GUARD_BINARY = join(PACKAGE_DIR, 'bin', process.platform === 'darwin' ? 'macos' : 'ubuntu', process.arch === 'arm64' ? 'aarch64' : 'x86_64', 'cfn-guard');

/** The id to acknowledge a cfn-guard finding with, by the guard rule's name (e.g. `lambda_inside_vpc_check`). */
export function guardFinding(ruleName: string): string {
  return `${GUARD_PLUGIN_NAME}::${ruleName}`;
}

/** Every Control Tower rule file, each with the resource types it names. */
export function controlTowerRules(): { file: string; types: Set<string> }[] {
  return readdirSync(CONTROL_TOWER_RULES_DIR, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.guard'))
    .sort()
    .map((f) => {
      const file = join(CONTROL_TOWER_RULES_DIR, f);
      const types = new Set([...readFileSync(file, 'utf8').matchAll(/["'](AWS::[A-Za-z0-9]+::[A-Za-z0-9]+)["']/g)].map((m) => m[1]));
      return { file, types };
    });
}

/** The rule files that name at least one resource type used in the templates. */
export function rulesForTemplates(templatePaths: readonly string[]): string[] {
  const present = new Set<string>();
  for (const path of templatePaths) {
    const template = JSON.parse(readFileSync(path, 'utf8')) as { Resources?: Record<string, { Type: string }> };
    for (const resource of Object.values(template.Resources ?? {})) present.add(resource.Type);
  }
  return controlTowerRules()
    .filter((rule) => [...rule.types].some((t) => present.has(t)))
    .map((rule) => rule.file);
}

/** The templates, with the nested stacks' templates written beside them in the cloud assembly. */
export function withNestedTemplates(templatePaths: readonly string[]): string[] {
  const all = new Set(templatePaths);
  for (const dir of new Set(templatePaths.map((p) => dirname(p)))) {
    for (const file of readdirSync(dir).sort()) if (file.endsWith('.nested.template.json')) all.add(join(dir, file));
  }
  return [...all];
}

export interface ControlTowerGuardChecksProps {
  /** Which of the templates (nested ones included) to check. @default - all of them */
  readonly selectTemplates?: (templatePaths: readonly string[]) => string[];
}

export class ControlTowerGuardChecks implements IPolicyValidationPlugin {
  readonly name = GUARD_PLUGIN_NAME;
  readonly version: string;
  private readonly selectTemplates: (templatePaths: readonly string[]) => string[];

  constructor(props: ControlTowerGuardChecksProps = {}) {
    this.version = (JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')) as { version: string }).version;
    this.selectTemplates = props.selectTemplates ?? ((paths) => [...paths]);
  }

  validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    const templatePaths = this.selectTemplates(withNestedTemplates(context.templatePaths));
    const rules = rulesForTemplates(templatePaths);
    if (rules.length === 0) return { success: true, violations: [] };
    return new CfnGuardValidator({ controlTowerRulesEnabled: false, rules }).validate({ ...context, templatePaths });
  }
}
