/**
 * Bad PMML is refused with a PmmlError that names the problem: DTDs and entities (never resolved, never
 * expanded), documents too large or too deep, models and strategies the converter does not take, wrong
 * types. Fuzz (fast-check): mutated documents (dropped elements, wrong attribute values, duplicated
 * elements, truncated or corrupted bytes) convert or are refused with a PmmlError; nothing else
 * escapes, and nothing hangs.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { convertPmml } from '../../../../lambda/convert/pmml/convert.ts';
import { PmmlError } from '../../../../lambda/convert/pmml/errors.ts';
import { parseXml, type Element } from '../../../../lambda/convert/pmml/xml.ts';
import { ROOT } from '../../../helpers.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'pmml');
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const refusal = (doc: string | Uint8Array, pattern: RegExp): void => {
  assert.throws(() => convertPmml(typeof doc === 'string' ? bytes(doc) : doc), (error: unknown) => {
    assert.ok(error instanceof PmmlError, `expected a PmmlError, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  });
};

const MINIMAL = (model: string, dictionary = '<DataField name="x" optype="continuous" dataType="double"/><DataField name="y" optype="continuous" dataType="double"/>'): string =>
  `<?xml version="1.0"?><PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"><DataDictionary>${dictionary}</DataDictionary>${model}</PMML>`;
const REGRESSION = '<RegressionModel functionName="regression"><MiningSchema><MiningField name="y" usageType="target"/><MiningField name="x"/></MiningSchema><RegressionTable intercept="1"><NumericPredictor name="x" coefficient="2"/></RegressionTable></RegressionModel>';

describe('PMML refusals', () => {
  it('converts the minimal document these cases mutate', () => {
    const { record } = convertPmml(bytes(MINIMAL(REGRESSION)));
    assert.equal(record.task, 'regression');
    assert.deepEqual(record.features.map((f) => f.name), ['x']);
  });

  it('refuses a DOCTYPE before any entity is declared or expanded (billion laughs)', () => {
    const lol = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"><Header description="&lol3;"/></PMML>`;
    refusal(lol, /DOCTYPE/);
  });

  it('refuses an external entity without reading it', () => {
    const xxe = `<?xml version="1.0"?><!DOCTYPE PMML [<!ENTITY secret SYSTEM "file:///etc/passwd">]><PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"><Header description="&secret;"/></PMML>`;
    refusal(xxe, /DOCTYPE/);
  });

  it('refuses an undeclared entity reference', () => {
    refusal(MINIMAL(REGRESSION).replace('<DataDictionary>', '<Header description="&unknown;"/><DataDictionary>'), /not well-formed/);
  });

  it('refuses elements nested past the depth limit, quickly', () => {
    const depth = 100_000;
    const doc = `<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">${'<Extension>'.repeat(depth)}${'</Extension>'.repeat(depth)}</PMML>`;
    const started = Date.now();
    refusal(doc, /deeper than 512/);
    assert.ok(Date.now() - started < 5000);
  });

  it('refuses a document over the size limit, and one with too many elements', () => {
    assert.throws(() => convertPmml(bytes(MINIMAL(REGRESSION)), 'model.pmml', { maxBytes: 100, maxDepth: 512, maxElements: 1e6, maxAttributes: 64 }), /over the 100-byte limit/);
    assert.throws(() => convertPmml(bytes(MINIMAL(REGRESSION)), 'model.pmml', { maxBytes: 1e6, maxDepth: 512, maxElements: 5, maxAttributes: 64 }), /more than 5 elements/);
  });

  it('refuses what is not PMML: other XML, broken XML, bytes that are not UTF-8', () => {
    refusal('<html><body/></html>', /not PMML/);
    refusal('<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"><DataDictionary>', /not well-formed/);
    refusal(new Uint8Array([0x3c, 0xff, 0xfe, 0x00]), /UTF-8/);
    refusal(MINIMAL(REGRESSION).replace('version="4.4"', 'version="3.2"'), /PMML 4\.1 to 4\.4/);
  });

  it('refuses model types it does not take, listing those it does', () => {
    refusal(MINIMAL('<SupportVectorMachineModel functionName="regression"><MiningSchema><MiningField name="x"/></MiningSchema></SupportVectorMachineModel>'), /<SupportVectorMachineModel> models are not supported; the converter takes RegressionModel, TreeModel, MiningModel/);
    refusal(MINIMAL(''), /holds no model/);
  });

  it('refuses tree strategies no reference evaluator implements', () => {
    const tree = (strategy: string): string => MINIMAL(`<TreeModel functionName="regression" missingValueStrategy="${strategy}"><MiningSchema><MiningField name="y" usageType="target"/><MiningField name="x"/></MiningSchema><Node score="1"><True/></Node></TreeModel>`);
    refusal(tree('weightedConfidence'), /weightedConfidence.*not support/);
    refusal(tree('aggregateNodes'), /aggregateNodes.*not support/);
    refusal(tree('sometimes'), /missingValueStrategy "sometimes"/);
  });

  it('names wrong types and missing pieces', () => {
    refusal(MINIMAL(REGRESSION.replace('coefficient="2"', 'coefficient="two"')), /coefficient of <NumericPredictor> \(line 1\) is "two", not a number/);
    refusal(MINIMAL(REGRESSION.replace('<MiningField name="x"/>', '<MiningField name="z"/>')), /MiningField "z" is not declared/);
    refusal(MINIMAL(REGRESSION, '<DataField name="x" optype="continuous" dataType="date"/>'), /dataType "date"/);
    refusal(MINIMAL(REGRESSION.replace('<NumericPredictor name="x" coefficient="2"/>', '<NumericPredictor name="w" coefficient="2"/>')), /field "w" is referenced but not defined/);
    refusal(MINIMAL(REGRESSION.replace('functionName="regression"', 'functionName="clustering"')), /functionName "clustering"/);
  });
});

// ---------------------------------------------------------------- fuzz

function serialize(e: Element): string {
  const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const attrs = Object.entries(e.attrs).map(([k, v]) => ` ${k}="${escape(v)}"`).join('');
  const ns = e.name === 'PMML' ? ' xmlns="http://www.dmg.org/PMML-4_4"' : '';
  const inner = e.children.length > 0 ? e.children.map(serialize).join('') : escape(e.text);
  return `<${e.name}${ns}${attrs}>${inner}</${e.name}>`;
}

/** Every element of a tree, depth first, with a path of child indices. */
function paths(e: Element, at: number[] = []): number[][] {
  return [at, ...e.children.flatMap((c, i) => paths(c, [...at, i]))];
}

function edit(e: Element, path: number[], change: (target: Element) => Element | undefined): Element {
  if (path.length === 0) return change(e) ?? e;
  const [head, ...rest] = path;
  const children = e.children.flatMap((c, i) => {
    if (i !== head) return [c];
    if (rest.length === 0) {
      const replaced = change(c);
      return replaced === undefined ? [] : [replaced];
    }
    return [edit(c, rest, change)];
  });
  return { ...e, children };
}

const WRONG_VALUES = ['', 'NaN', '-INF', '1e400', 'abc', '-1', '0', '999999999', 'true', '<', '"quoted"', 'lessOrEqual', 'categorical', 'x'];

describe('PMML fuzz: mutated documents convert or are refused with a PmmlError', () => {
  const sources = readdirSync(FIXTURES).sort().filter((c) => /^(sk_logreg_penguins_binary|sk_tree_clf_penguins|sk_gbdt_clf_binary|hand_transformations|hand_tree_defaultChild|hand_segmentation_selectFirst)$/.test(c));
  const docs = sources.map((c) => parseXml(readFileSync(join(FIXTURES, c, 'model.pmml'))));
  const runs = Number(process.env.FUZZ_RUNS ?? 150);
  const settle = (doc: Uint8Array): void => {
    try {
      convertPmml(doc);
    } catch (error) {
      if (!(error instanceof PmmlError)) throw new Error(`not a PmmlError: ${(error as Error).stack}`);
      assert.ok(error.message.length > 10);
    }
  };

  it('survives dropped, duplicated and re-typed elements and attributes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: docs.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.constantFrom('drop', 'duplicate', 'attr', 'text', 'rename'), fc.nat(), fc.constantFrom(...WRONG_VALUES)), { minLength: 1, maxLength: 4 }), (which, edits) => {
        let doc = docs[which];
        for (const [where, kind, attrIndex, value] of edits) {
          const all = paths(doc).filter((p) => p.length > 0);
          const path = all[where % all.length];
          doc = edit(doc, path, (target) => {
            switch (kind) {
              case 'drop': return undefined;
              case 'duplicate': return { ...target, children: [...target.children, ...target.children.slice(0, 1)] };
              case 'attr': {
                const keys = Object.keys(target.attrs);
                if (keys.length === 0) return target;
                return { ...target, attrs: { ...target.attrs, [keys[attrIndex % keys.length]]: value } };
              }
              case 'text': return { ...target, text: value };
              default: return { ...target, name: value.replace(/[^A-Za-z]/g, '') || 'X' };
            }
          });
        }
        settle(bytes(serialize(doc)));
      }),
      { numRuns: runs, seed: 25 },
    );
  });

  it('survives truncated and corrupted bytes', () => {
    const raw = readFileSync(join(FIXTURES, 'hand_transformations', 'model.pmml'));
    fc.assert(
      fc.property(fc.nat({ max: raw.length }), fc.array(fc.tuple(fc.nat({ max: raw.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), (cut, flips) => {
        const doc = Uint8Array.from(raw.subarray(0, cut));
        for (const [i, b] of flips) if (i < doc.length) doc[i] = b;
        settle(doc);
      }),
      { numRuns: runs, seed: 26 },
    );
  });
});

describe('PMML trees beyond what a TreeEnsemble can hold', () => {
  it('evaluates a node with 3,000 children (a 6,000-split chain) by the matrix walk, without a crash', async () => {
    const children = Array.from({ length: 3000 }, (_, i) => `<Node score="${i}"><SimplePredicate field="x" operator="lessOrEqual" value="${i}"/></Node>`).join('');
    const doc = MINIMAL(`<TreeModel functionName="regression"><MiningSchema><MiningField name="y" usageType="target"/><MiningField name="x"/></MiningSchema><Node score="-1"><True/>${children}</Node></TreeModel>`);
    const { onnx } = convertPmml(bytes(doc));
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(onnx);
    const out = await session.run({ features: new ort.Tensor('float64', Float64Array.from([-5, 10.5, 2999, 5000]), [4, 1]) });
    assert.deepEqual(Array.from(out.prediction.data as Float64Array).slice(0, 3), [0, 11, 2999]);
    assert.ok(Number.isNaN((out.prediction.data as Float64Array)[3]), 'no child true, returnNullPrediction: no answer');
  });
});
