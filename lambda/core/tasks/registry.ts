/**
 * Every task ModelShip serves, by name (Hugging Face's pipeline names), and the folder → task
 * decision. Registering a task is one line in TASK_MODULES. Order matters for detection only: a
 * folder whose config.json names no task is asked of each module in this order, the first yes
 * wins, so a narrower task (zero-shot over an NLI classifier) comes before the broader one
 * (text-classification) whose detection it would otherwise lose to.
 */
import { TASKS } from '../config.ts';
import { featureExtraction } from './feature-extraction.ts';
import { imageClassification } from './image-classification.ts';
import { imageFeatureExtraction } from './image-feature-extraction.ts';
import { objectDetection } from './object-detection.ts';
import { questionAnswering } from './question-answering.ts';
import { sentenceSimilarity } from './sentence-similarity.ts';
import type { LoadedTask, TaskFolder, TaskModule } from './task.ts';
import { textClassification } from './text-classification.ts';
import { tokenClassification } from './token-classification.ts';
import { zeroShotImageClassification } from './zero-shot-image-classification.ts';
import { zeroShotClassification } from './zero-shot-classification.ts';

// Each module has its own Loaded and Request types; the registry holds them as one list.
type AnyTaskModule = TaskModule<any, any>;

export const TASK_MODULES: readonly AnyTaskModule[] = [
  imageClassification,
  questionAnswering,
  zeroShotClassification,
  textClassification,
  // Before feature-extraction, which would take a CLIP or SigLIP folder (a *Model with a tokenizer) as text embeddings.
  zeroShotImageClassification,
  imageFeatureExtraction,
  featureExtraction,
  tokenClassification,
  objectDetection,
  sentenceSimilarity,
];

const BY_NAME = new Map(TASK_MODULES.map((m) => [m.name, m]));

/** The module of a task name, or undefined. */
export const taskModule = (name: string): TaskModule | undefined => BY_NAME.get(name);

/** The task names served, in registry order. */
export const taskNames = (): string[] => TASK_MODULES.map((m) => m.name);

/** Every file beyond model.onnx any task reads: what the loader reads, hashes and pins (the side-file digest). */
export const TASK_SIDE_FILES: readonly string[] = [...new Set(TASK_MODULES.flatMap((m) => m.sideFiles))];

/** The module for a folder: config.json's `task` when it names one, else the first module that detects it; undefined for a tensor model. */
export function moduleFor(folder: TaskFolder): TaskModule | undefined {
  const named = folder.config.task;
  if (named !== undefined && (TASKS as readonly string[]).includes(named)) {
    const module = BY_NAME.get(named);
    if (module === undefined) throw new Error(`${folder.where}: config.json "task" is "${named}", which this build does not serve (it serves ${taskNames().join(', ')})`);
    return module;
  }
  return TASK_MODULES.find((m) => m.detect(folder));
}

/** The task of a version folder, loaded; undefined for a tensor model. Throws (the version is then unavailable) naming what is wrong. */
export async function loadTask(folder: TaskFolder): Promise<LoadedTask | undefined> {
  const module = moduleFor(folder);
  if (module === undefined) return undefined;
  return { module, loaded: await module.load(folder) };
}

/** The content types a loaded task takes as a raw body. */
export const taskContentTypes = (task: LoadedTask): readonly string[] => task.module.contentTypes(task.loaded);

/** Whether a loaded task takes images (raw image bodies, image folders in batch). */
export const takesImages = (task: LoadedTask | undefined): boolean => task !== undefined && taskContentTypes(task).some((t) => t.startsWith('image/'));

/**
 * Whether a module takes images, asked before anything is loaded (cdk synth and doctor decide from
 * it whether sharp ships for the functions' architecture): its raw content types, which for an
 * image task must not depend on what it loaded.
 */
export function moduleTakesImages(module: TaskModule): boolean {
  try {
    return module.contentTypes(undefined).some((t) => t.startsWith('image/'));
  } catch {
    return false;
  }
}
