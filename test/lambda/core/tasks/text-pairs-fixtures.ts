/**
 * The text-pair test models laid out for a test (scripts/samples/text-pair-fixtures.ts), and for
 * transformers.js beside them: its layout puts the model at onnx/model.onnx.
 */
import { existsSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEXT_PAIR_MODELS, writeTextPairModels, type TextPairModel } from '../../../../scripts/samples/text-pair-fixtures.ts';

export { fixtureTokenizer, TEXT_PAIR_MODELS, TEXT_PAIRS_DIR, type TextPairModel } from '../../../../scripts/samples/text-pair-fixtures.ts';

/**
 * A model repository holding the fixture models as <name>/1, each with ModelShip's config.json
 * when given; and <dir>-tjs/<name> with the same files linked and the model at onnx/model.onnx.
 */
export function layOutTextPairFixtures(configs: Partial<Record<TextPairModel, Record<string, unknown>>> = {}, names: readonly TextPairModel[] = TEXT_PAIR_MODELS): { dir: string; transformersJs: string } {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-text-pairs-'));
  const transformersJs = `${dir}-tjs`;
  writeTextPairModels(dir, configs, names);
  for (const name of names) {
    const version = join(dir, name, '1');
    const tjs = join(transformersJs, name);
    mkdirSync(join(tjs, 'onnx'), { recursive: true });
    for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) if (existsSync(join(version, file))) symlinkSync(join(version, file), join(tjs, file));
    symlinkSync(join(version, 'model.onnx'), join(tjs, 'onnx', 'model.onnx'));
  }
  return { dir, transformersJs };
}
