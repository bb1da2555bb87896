import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { discoverModels } from '../../lib/model-discovery.ts';
import { readSettings } from '../../lib/settings.ts';
import { SAMPLE_MODELS, SAMPLES_DIR } from '../helpers.ts';
import { repositoryWith } from './stack-fixture.ts';

const settings = (context: Record<string, unknown>) => readSettings(new App({ context }).node);

describe('stack settings from cdk.json context', () => {
  it('has the documented defaults', () => {
    assert.deepEqual(settings({}), {
      modelsDir: 'models', authMode: 'iam', alarmEmail: undefined, waf: false, wafRateLimit: 2000, architecture: 'x86_64',
      logRetentionDays: 30, stageName: 'prod', throttleRateLimit: 100, throttleBurstLimit: 200, apiKeyQuotaPerDay: 100000,
      corsOrigins: undefined, storeEncryption: 's3', noncurrentVersionDays: 90, retainModelStore: true, driftScheduleMinutes: 60, captureRetentionDays: 90,
      logEncryption: 'aws',
      modelStacks: 0,
      snapStart: false,
    });
  });

  it('accepts values given on the command line as strings', () => {
    const s = settings({ 'modelship:waf': 'true', 'modelship:throttleRateLimit': '50', 'modelship:corsOrigins': 'https://a.example, https://b.example' });
    assert.equal(s.waf, true);
    assert.equal(s.throttleRateLimit, 50);
    assert.deepEqual(s.corsOrigins, ['https://a.example', 'https://b.example']);
  });

  it('throws naming the key and the value when a setting is wrong', () => {
    assert.throws(() => settings({ 'modelship:authMode': 'cognito' }), /^Error: context modelship:authMode must be one of iam, apiKey, got "cognito"$/);
    assert.throws(() => settings({ 'modelship:throttleRateLimit': 'fast' }), /context modelship:throttleRateLimit must be an integer >= 1, got "fast"/);
    assert.throws(() => settings({ 'modelship:waf': 'yes please' }), /context modelship:waf must be true or false/);
    assert.throws(() => settings({ 'modelship:alarmEmail': 'oncall' }), /context modelship:alarmEmail must be an email address, got "oncall"/);
    assert.throws(() => settings({ 'modelship:architecture': 'ppc64' }), /modelship:architecture must be one of x86_64, arm64/);
    assert.throws(() => settings({ 'modelship:driftScheduleMinutes': '1' }), /context modelship:driftScheduleMinutes must be an integer >= 5, got "1"/);
  });
});

describe('model discovery at synth', () => {
  it('finds the samples with their versions and live version', () => {
    const models = discoverModels(SAMPLES_DIR);
    assert.deepEqual(models.map((m) => m.name), SAMPLE_MODELS);
    assert.ok(models.every((m) => m.liveVersion === 1));
  });

  it('throws naming the file and the field for an invalid config', () => {
    const dir = repositoryWith({ bad: { memorySizeMb: 64 } });
    assert.throws(() => discoverModels(dir), /bad\/config.json: field "memorySizeMb": .*>=128/);
  });

  it('throws when a pinned version is missing', () => {
    const dir = repositoryWith({ m: { versionPolicy: { pinned: 2 } } });
    assert.throws(() => discoverModels(dir), /m\/config.json: field "versionPolicy" pins version 2, but .* has versions 1/);
  });

  it('throws for a model directory with no version', () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelship-empty-'));
    mkdirSync(join(dir, 'lonely'));
    writeFileSync(join(dir, 'lonely', 'config.json'), '{}');
    assert.throws(() => discoverModels(dir), /lonely: no version directory holds a model.onnx/);
  });
});
