import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NATIVE_MODEL_FILES as NAMES } from '../../../lambda/convert/files.ts';
import { NATIVE_MODEL_FILES } from '../../../lambda/convert/registry.ts';

describe('native model file names', () => {
  it('lists exactly the files the registry converts (a new converter adds its file name to lambda/convert/files.ts too)', () => {
    assert.deepEqual([...NAMES].sort(), [...NATIVE_MODEL_FILES].sort());
  });
});
