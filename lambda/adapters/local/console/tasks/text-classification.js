// The console's form and answer for text-classification: a text box; bars per label.
import { renderClasses } from './shared.js';

export const form = 'text';
export const sends = 'send: a text (text/plain), or JSON {"inputs": ["a text", …]}';
export const answers = 'answers: labels with their scores, best first';
export const render = renderClasses;
