#!/usr/bin/env node
/** The CDK app: `npx cdk synth` / `npx cdk deploy`. Environment-agnostic unless CDK_DEFAULT_ACCOUNT/REGION are set. */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { ControlTowerGuardChecks } from '../lib/guard-checks.ts';
import { ModelShipStack } from '../lib/modelship-stack.ts';
import { ModelShipSageMakerChecks } from '../lib/nag-packs.ts';
import { fetchSamples } from '../scripts/samples/fetch-samples.ts';

const app = new App();
// The samples' third-party files (not in git) come from pinned packages, hash-checked; only when
// the repository deployed is this one's own models/ (modelship:modelsDir unset or "models").
const modelsDir = app.node.tryGetContext('modelship:modelsDir') as string | undefined;
if (modelsDir === undefined || modelsDir === 'models') fetchSamples();
const account = process.env.CDK_DEPLOY_ACCOUNT ?? process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEPLOY_REGION ?? process.env.CDK_DEFAULT_REGION;
new ModelShipStack(app, 'ModelShip', { env: account && region ? { account, region } : undefined });
// cdk-nag's packs, and cfn-guard with AWS Control Tower's proactive controls: a finding that is not
// acknowledged next to its construct stops the synth (and so the deploy).
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app), new ModelShipSageMakerChecks(app), new ControlTowerGuardChecks());
