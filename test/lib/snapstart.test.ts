import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { buildStack, repositoryWith } from './stack-fixture.ts';

/** The model function serving `name`, its published version and its live alias, from the template. */
function served(template: Template, name: string) {
  const functions = template.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: Match.objectLike({ MODEL_NAMES: name }) }, ImageConfig: Match.absent() } });
  const [fnId, fn] = Object.entries(functions).find(([, f]: [string, any]) => f.Properties.Environment.Variables.MODEL_NAMES === name)! as [string, any];
  const versions = template.findResources('AWS::Lambda::Version', { Properties: { FunctionName: { Ref: fnId } } });
  assert.equal(Object.keys(versions).length, 1, `one published version of ${name}`);
  const [versionId] = Object.keys(versions);
  const aliases = template.findResources('AWS::Lambda::Alias', { Properties: { FunctionName: { Ref: fnId }, Name: 'live' } });
  assert.equal(Object.keys(aliases).length, 1, `one live alias of ${name}`);
  return { fn, versionId, alias: Object.values(aliases)[0] as any };
}

describe('SnapStart', () => {
  it('is off unless asked', () => {
    const { template } = buildStack({ 'modelship:modelsDir': repositoryWith({ a: undefined, b: { memorySizeMb: 4096 } }) });
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as any[];
    assert.ok(functions.length > 0);
    for (const fn of functions) assert.equal(fn.Properties.SnapStart, undefined);
  });

  it("is on, for published versions, only for the models whose config.json asks, with the live alias at this deploy's published version", () => {
    const { template, app } = buildStack({ 'modelship:modelsDir': repositoryWith({ fast: { snapStart: true }, plain: undefined, off: { snapStart: false } }) });
    const fast = served(template, 'fast');
    assert.deepEqual(fast.fn.Properties.SnapStart, { ApplyOn: 'PublishedVersions' });
    assert.deepEqual(fast.alias.Properties.FunctionVersion, { 'Fn::GetAtt': [fast.versionId, 'Version'] });
    for (const name of ['plain', 'off']) assert.equal(served(template, name).fn.Properties.SnapStart, undefined, name);
    // The L2's "requires a published version" warning is acknowledged with the reason, not left standing.
    const warnings = app.synth().getStackByName('TestStack').messages.filter((m) => String(m.entry.data).includes('SnapStart'));
    assert.deepEqual(warnings, []);
  });

  it('modelship:snapStart turns it on for every model function; a config.json "snapStart": false keeps its own off', () => {
    const { template } = buildStack({ 'modelship:modelsDir': repositoryWith({ a: undefined, b: { snapStart: false } }), 'modelship:snapStart': 'true' });
    const a = served(template, 'a');
    assert.deepEqual(a.fn.Properties.SnapStart, { ApplyOn: 'PublishedVersions' });
    assert.deepEqual(a.alias.Properties.FunctionVersion, { 'Fn::GetAtt': [a.versionId, 'Version'] });
    assert.equal(served(template, 'b').fn.Properties.SnapStart, undefined);
  });

  it('keeps CodeDeploy traffic shifting on the live alias', () => {
    const { template } = buildStack({ 'modelship:modelsDir': repositoryWith({ c: { snapStart: true, deployment: { strategy: 'canary', percent: 10, intervalMinutes: 5 } } }) });
    const c = served(template, 'c');
    assert.deepEqual(c.fn.Properties.SnapStart, { ApplyOn: 'PublishedVersions' });
    template.hasResource('AWS::Lambda::Alias', { Properties: { Name: 'live', FunctionVersion: { 'Fn::GetAtt': [c.versionId, 'Version'] } }, UpdatePolicy: { CodeDeployLambdaAliasUpdate: Match.anyValue() } });
  });

  it('refuses at synth what Lambda refuses, naming the setting', () => {
    assert.throws(() => buildStack({ 'modelship:modelsDir': repositoryWith({ p: { snapStart: true, provisionedConcurrency: 2 } }) }), /models\/p\/config\.json "snapStart": true and "provisionedConcurrency": 2 cannot go together: Lambda does not support SnapStart with provisioned concurrency/);
    assert.throws(() => buildStack({ 'modelship:modelsDir': repositoryWith({ p: { provisionedConcurrency: 1 } }), 'modelship:snapStart': true }), /context modelship:snapStart=true and "provisionedConcurrency": 1 cannot go together/);
    assert.throws(() => buildStack({ 'modelship:modelsDir': repositoryWith({ e: { snapStart: true, ephemeralStorageMb: 1024 } }) }), /"ephemeralStorageMb": 1024 cannot go together: Lambda supports SnapStart only with up to 512 MB of ephemeral storage/);
    assert.throws(() => buildStack({ 'modelship:modelsDir': repositoryWith({ g1: { functionGroup: 'small', snapStart: true }, g2: { functionGroup: 'small' } }) }), /models g1 ask for SnapStart but g2, sharing their function \(functionGroup\), do not/);
    assert.throws(() => buildStack({ 'modelship:modelsDir': repositoryWith({ s: { snapStart: true, target: 'sagemaker' } }) }), /snapStart.*applies to Lambda models only/);
    assert.throws(() => buildStack({ 'modelship:snapStart': 'yes' }), /context modelship:snapStart must be true or false, got "yes"/);
  });

  it('lets a function group on SnapStart when its models agree', () => {
    const { template } = buildStack({ 'modelship:modelsDir': repositoryWith({ g1: { functionGroup: 'small', snapStart: true }, g2: { functionGroup: 'small', snapStart: true } }) });
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ MODEL_NAMES: 'g1,g2' }) }, SnapStart: { ApplyOn: 'PublishedVersions' } });
  });
});
