/**
 * The vision tasks' models at synth: an image embedding model gets the OpenAI-compatible base URL
 * for image items on /v1/embeddings (/openai/{name}/v1/embeddings; no rerank), a zero-shot model
 * none; both ship sharp.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { discoverModels } from '../../lib/model-discovery.ts';
import { writeVisionRepository } from '../../scripts/samples/vision-fixtures.ts';
import { TempRepository } from '../helpers.ts';
import { buildStack } from './stack-fixture.ts';

describe('vision models at synth', () => {
  const dir = writeVisionRepository(new TempRepository('vision-synth-').dir, ['vit_embeddings', 'clip_image_embeddings', 'clip_zero_shot']);

  it('marks image encoders (by architecture, or config.json task) as image embedding models, and not CLIP as a whole', () => {
    const models = new Map(discoverModels(dir).map((m) => [m.name, m]));
    assert.deepEqual(['vit_embeddings', 'clip_image_embeddings', 'clip_zero_shot'].map((n) => [n, models.get(n)!.embedsImages, models.get(n)!.takesText]), [
      ['vit_embeddings', true, false],
      ['clip_image_embeddings', true, false],
      ['clip_zero_shot', false, true],
    ]);
  });

  it('gives an image embedding model /openai/{name}/v1/embeddings and models, without rerank', () => {
    const { template } = buildStack({ 'modelship:modelsDir': dir });
    const resources = template.findResources('AWS::ApiGateway::Resource') as Record<string, { Properties: { PathPart: string; ParentId: { Ref?: string } } }>;
    const pathOf = (id: string): string => {
      const r = resources[id];
      if (r === undefined) return '';
      return `${pathOf(r.Properties.ParentId.Ref ?? '')}/${r.Properties.PathPart}`;
    };
    const paths = new Set(Object.keys(resources).map(pathOf));
    assert.ok(paths.has('/openai/vit_embeddings/v1/embeddings') && paths.has('/openai/vit_embeddings/v1/models'), [...paths].filter((p) => p.startsWith('/openai')).join(', '));
    assert.ok(!paths.has('/openai/vit_embeddings/v1/rerank'));
    // CLIP as a whole carries a tokenizer: a text model's full base URL (its /v1/embeddings answers that it is zero-shot).
    assert.ok(paths.has('/openai/clip_zero_shot/v1/rerank'));
  });
});
