/**
 * PMML's XML read into a small element tree with saxes (a strict, non-validating streaming parser:
 * it never fetches anything). The document is bounded before it becomes a tree: a DOCTYPE is refused
 * outright (so no entity is ever declared, let alone expanded or resolved), and size, depth, element
 * count and attribute count have limits, checked as the events arrive.
 */
import { SaxesParser } from 'saxes';
import { PmmlError } from './errors.ts';

export interface Element {
  /** The local name (PMML's namespace is checked once, on the root). */
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: readonly Element[];
  /** Text directly inside the element (Array contents, Timestamp), whitespace kept. */
  readonly text: string;
  /** 1-based line of the opening tag, for messages. */
  readonly line: number;
}

export interface XmlLimits {
  readonly maxBytes: number;
  readonly maxDepth: number;
  readonly maxElements: number;
  readonly maxAttributes: number;
}

/** Generous for real models (a 500-tree forest of depth 12 is ~2M elements, ~150 MB), tight enough to stop abuse. */
export const DEFAULT_XML_LIMITS: XmlLimits = { maxBytes: 256 * 1024 * 1024, maxDepth: 512, maxElements: 5_000_000, maxAttributes: 64 };

interface Building { name: string; attrs: Record<string, string>; children: Element[]; text: string; line: number }

/** Parses a PMML document; throws PmmlError naming the problem (and the line) for anything malformed or over a limit. */
export function parseXml(bytes: Uint8Array, limits: XmlLimits = DEFAULT_XML_LIMITS): Element {
  if (bytes.length > limits.maxBytes) throw new PmmlError(`the document is ${bytes.length} bytes, over the ${limits.maxBytes}-byte limit`);
  let source: string;
  try {
    source = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new PmmlError('the document is not valid UTF-8 text (PMML is XML; save it as UTF-8)');
  }
  const parser = new SaxesParser({ xmlns: true, position: true });
  const stack: Building[] = [];
  let root: Element | undefined;
  let elements = 0;
  parser.on('doctype', () => {
    throw new PmmlError('the document has a DOCTYPE; PMML needs none, and DTDs and entities are never read (remove the <!DOCTYPE ...> declaration)');
  });
  parser.on('processinginstruction', () => { /* ignored, as PMML gives them no meaning */ });
  parser.on('opentag', (tag) => {
    elements += 1;
    if (elements > limits.maxElements) throw new PmmlError(`the document has more than ${limits.maxElements} elements`);
    if (stack.length + 1 > limits.maxDepth) throw new PmmlError(`elements nest deeper than ${limits.maxDepth} levels (line ${parser.line})`);
    const attrs: Record<string, string> = Object.create(null) as Record<string, string>;
    const names = Object.keys(tag.attributes);
    if (names.length > limits.maxAttributes) throw new PmmlError(`<${tag.local}> has ${names.length} attributes, over the limit of ${limits.maxAttributes} (line ${parser.line})`);
    for (const key of names) {
      const attr = tag.attributes[key];
      // Namespace declarations and prefixed extension attributes (x-*, data:*) carry nothing PMML scores by.
      if (attr.prefix === 'xmlns' || attr.name === 'xmlns' || attr.prefix !== '') continue;
      attrs[attr.local] = attr.value;
    }
    if (stack.length === 0 && !(tag.uri ?? '').startsWith('http://www.dmg.org/PMML-')) {
      throw new PmmlError(`the root element is <${tag.name}> in namespace "${tag.uri ?? ''}", not PMML's <PMML xmlns="http://www.dmg.org/PMML-4_4">`);
    }
    stack.push({ name: tag.local ?? tag.name, attrs, children: [], text: '', line: parser.line });
  });
  parser.on('text', (text) => {
    const top = stack.at(-1);
    if (top !== undefined) top.text += text;
  });
  parser.on('cdata', (text) => {
    const top = stack.at(-1);
    if (top !== undefined) top.text += text;
  });
  parser.on('closetag', () => {
    const done = stack.pop();
    if (done === undefined) return;
    // Extensions (vendors' additions) are dropped: PMML scores without them. Elements of other
    // namespaces are kept by local name: InlineTable cells are often written that way (data:col).
    if (done.name === 'Extension') return;
    const element: Element = done;
    if (stack.length === 0) root = element;
    else stack[stack.length - 1].children.push(element);
  });
  try {
    parser.write(source).close();
  } catch (error) {
    if (error instanceof PmmlError) throw error;
    throw new PmmlError(`the document is not well-formed XML: ${(error as Error).message}`);
  }
  if (root === undefined) throw new PmmlError('the document has no root element');
  if (root.name !== 'PMML') throw new PmmlError(`the root element is <${root.name}>, not <PMML>`);
  return root;
}

/** Child elements named `name`. */
export const childrenNamed = (e: Element, name: string): Element[] => e.children.filter((c) => c.name === name);
/** The one child named `name`, or undefined. */
export const child = (e: Element, name: string): Element | undefined => e.children.find((c) => c.name === name);

/** The child named `name`, which must be there. */
export function requireChild(e: Element, name: string): Element {
  const c = child(e, name);
  if (c === undefined) throw new PmmlError(`<${e.name}> (line ${e.line}) has no <${name}>, which it needs`);
  return c;
}

/** A required attribute. */
export function attr(e: Element, name: string): string {
  const v = e.attrs[name];
  if (v === undefined) throw new PmmlError(`<${e.name}> (line ${e.line}) has no ${name} attribute, which it needs`);
  return v;
}

/** A number attribute (required unless a fallback is given); anything that is not a finite number is refused, named. */
export function numberAttr(e: Element, name: string, fallback?: number): number {
  const raw = e.attrs[name];
  if (raw === undefined) {
    if (fallback === undefined) throw new PmmlError(`<${e.name}> (line ${e.line}) has no ${name} attribute, which it needs`);
    return fallback;
  }
  return parseNumber(raw, `${name} of <${e.name}> (line ${e.line})`);
}

/** PMML's number syntax (xs:double): decimal or exponent forms, INF, -INF, NaN. */
export function parseNumber(raw: string, what: string): number {
  const s = raw.trim();
  if (s === 'INF' || s === '+INF') return Infinity;
  if (s === '-INF') return -Infinity;
  if (s === 'NaN') return NaN;
  if (s === '' || !isNumeral(s)) throw new PmmlError(`${what} is "${raw}", not a number`);
  return Number(s);
}

/** xs:double's lexical form checked character by character (Number() alone would take "0x10", "Infinity" and " "). */
function isNumeral(s: string): boolean {
  let i = 0;
  const digits = (): number => {
    const start = i;
    while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i += 1;
    return i - start;
  };
  if (s[i] === '+' || s[i] === '-') i += 1;
  let n = digits();
  if (s[i] === '.') {
    i += 1;
    n += digits();
  }
  if (n === 0) return false;
  if (s[i] === 'e' || s[i] === 'E') {
    i += 1;
    if (s[i] === '+' || s[i] === '-') i += 1;
    if (digits() === 0) return false;
  }
  return i === s.length;
}

/** PMML's Array content: whitespace-separated tokens, "quoted strings" with \" escapes. */
export function arrayTokens(e: Element): string[] {
  const s = e.text;
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i += 1;
      continue;
    }
    if (c === '"') {
      let token = '';
      i += 1;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && s[i + 1] === '"') {
          token += '"';
          i += 2;
        } else {
          token += s[i];
          i += 1;
        }
      }
      if (i >= s.length) throw new PmmlError(`<Array> (line ${e.line}) has an unterminated quoted value`);
      i += 1;
      out.push(token);
      continue;
    }
    let token = '';
    while (i < s.length && !' \t\n\r'.includes(s[i])) {
      token += s[i];
      i += 1;
    }
    out.push(token);
  }
  const n = e.attrs.n;
  if (n !== undefined && Number(n) !== out.length) throw new PmmlError(`<Array n="${n}"> (line ${e.line}) holds ${out.length} values`);
  return out;
}
