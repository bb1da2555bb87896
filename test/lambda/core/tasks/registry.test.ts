/**
 * The task registry: every task config.json may name has a module and the other way round, the
 * side-file list is the union of the modules', model.onnx's metadata_props are read as protobufjs
 * (with ONNX's own schema) reads them, and a folder's further ONNX files open as sessions only when
 * they were read and hash-checked with the other side files.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InferenceSession } from 'onnxruntime-node';
import { parseModelConfig, TASKS } from '../../../../lambda/core/config.ts';
import { pinnedSideFiles } from '../../../../lambda/core/model-folder.ts';
import { sideFilesDigest, taskFolder } from '../../../../lambda/core/tasks/hf-folder.ts';
import { onnxMetadataProps } from '../../../../lambda/core/tasks/onnx-metadata.ts';
import { moduleFor, moduleTakesImages, TASK_MODULES, TASK_SIDE_FILES, taskModule } from '../../../../lambda/core/tasks/registry.ts';
import { decodeModel, encodeModel } from '../../../../lambda/convert/onnx/onnx-model.ts';
import { takesImagesOnDisk } from '../../../../lib/image-context.ts';
import { ROOT, SAMPLES_DIR } from '../../../helpers.ts';

const MODEL = join(SAMPLES_DIR, 'text_orientation', '1', 'model.onnx');

describe('the task registry', () => {
  it('registers each task once, by a name config.json accepts, with its side files and drift signals', () => {
    const names = TASK_MODULES.map((m) => m.name);
    assert.equal(new Set(names).size, names.length, `a task registered twice: ${names.join(', ')}`);
    for (const module of TASK_MODULES) {
      assert.ok((TASKS as readonly string[]).includes(module.name), `${module.name} is not in config.ts's TASKS`);
      assert.equal(taskModule(module.name), module);
      assert.ok(module.signals.every((s) => s.name !== '' && (s.kind === 'numeric' || s.kind === 'categorical')), module.name);
    }
    assert.deepEqual(['image-classification', 'text-classification', 'feature-extraction'].filter((t) => !names.includes(t)), []);
  });

  it('pins the union of every module\'s side files, which still includes every file the three first tasks read', () => {
    for (const module of TASK_MODULES) for (const file of module.sideFiles) assert.ok(TASK_SIDE_FILES.includes(file) && pinnedSideFiles().includes(file), file);
    for (const file of ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'modules.json', '1_Pooling/config.json', 'index_to_name.json']) assert.ok(TASK_SIDE_FILES.includes(file), file);
    // The digest is of the files present, sorted: a new task's files change nothing for a folder without them.
    const files = new Map([['config.json', new Uint8Array([1])], ['tokenizer.json', new Uint8Array([2])]]);
    assert.equal(sideFilesDigest(files), sideFilesDigest(new Map([...files].reverse())));
  });

  it('picks the module config.json names, else the first that detects the folder, and refuses a task this build does not serve', () => {
    const folder = (config: unknown, hf?: unknown) =>
      taskFolder({ where: 'test/m/1', config: parseModelConfig(JSON.stringify(config), 'config.json'), files: new Map(hf === undefined ? [] : [['config.json', Buffer.from(JSON.stringify(hf))]]), signature: { inputs: [], outputs: [] }, onnx: new Uint8Array(), createSession: () => Promise.reject(new Error('none')) });
    assert.equal(moduleFor(folder({}, { architectures: ['ViTForImageClassification'] }))?.name, 'image-classification');
    assert.equal(moduleFor(folder({}, { architectures: ['BertForSequenceClassification'] }))?.name, 'text-classification');
    assert.equal(moduleFor(folder({ task: 'feature-extraction' }, { architectures: ['BertForSequenceClassification'] }))?.name, 'feature-extraction');
    assert.equal(moduleFor(folder({})), undefined, 'a tensor model');
    const unserved = TASKS.find((t) => taskModule(t) === undefined);
    if (unserved !== undefined) assert.throws(() => moduleFor(folder({ task: unserved })), new RegExp(`"task" is "${unserved}", which this build does not serve`));
    assert.equal(moduleTakesImages(taskModule('image-classification')!), true);
    assert.equal(moduleTakesImages(taskModule('text-classification')!), false);
  });

  it('tells synth and doctor which folders need sharp by asking the registry: an Ultralytics export by its metadata alone, not a text model', () => {
    const none = parseModelConfig(undefined, 'none');
    assert.equal(takesImagesOnDisk(join(ROOT, 'test', 'fixtures', 'object-detection', 'yolo26'), none), true, 'model.onnx alone, recognized from its metadata_props');
    assert.equal(takesImagesOnDisk(join(SAMPLES_DIR, 'text_orientation', '1'), none), true);
    assert.equal(takesImagesOnDisk(join(SAMPLES_DIR, 'debian_sections', '1'), none), false);
    assert.equal(takesImagesOnDisk(join(SAMPLES_DIR, 'iris_forest', '1'), none), false);
  });

  it('reads model.onnx\'s metadata_props as protobufjs with ONNX\'s schema does, without decoding the graph', () => {
    const model = decodeModel(readFileSync(MODEL));
    model.metadataProps = [{ key: 'names', value: "{0: 'person', 1: 'bicycle'}" }, { key: 'imgsz', value: '[640, 640]' }, { key: 'task', value: 'detect' }, { key: 'note', value: 'ünïcödé' }];
    const bytes = encodeModel(model);
    const expected = Object.fromEntries(decodeModel(bytes).metadataProps!.map(({ key, value }) => [key, value]));
    assert.deepEqual(onnxMetadataProps(bytes), expected);
    assert.deepEqual(onnxMetadataProps(readFileSync(MODEL)), {});
    assert.throws(() => onnxMetadataProps(bytes.subarray(0, bytes.length - 3), 'cut.onnx'), /cut\.onnx is truncated/);
  });

  it('opens a further ONNX file of the folder with the version\'s session options, and only one that was read with the side files', async () => {
    const created: Uint8Array[] = [];
    const folder = taskFolder({
      where: 'test/m/1',
      config: parseModelConfig(undefined, 'none'),
      files: new Map([['text_model.onnx', readFileSync(MODEL)]]),
      signature: { inputs: [], outputs: [] },
      onnx: readFileSync(MODEL),
      createSession: (bytes) => {
        created.push(bytes);
        return InferenceSession.create(bytes);
      },
    });
    const session = await folder.openSession('text_model.onnx');
    assert.deepEqual(session.inputNames, ['x']);
    assert.equal(created.length, 1);
    await assert.rejects(folder.openSession('vision_model.onnx'), /test\/m\/1\/vision_model\.onnx is not in the folder \(or no registered task lists it in its sideFiles/);
  });
});
