// The console's form and answer for image-classification: a file input; bars per label.
import { renderClasses } from './shared.js';

export const form = 'image';
export const sends = 'send: an image (JPEG, PNG or WebP, as the body)';
export const answers = 'answers: labels with their scores, best first';
export const render = renderClasses;
