// JSON.rawJSON ships in Node 22+ (V8's JSON.parse source text access) but not yet in TypeScript's lib.
interface JSON {
  rawJSON(text: string): unknown;
  isRawJSON(value: unknown): boolean;
}
