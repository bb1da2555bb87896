/**
 * PMML's invalidValueTreatment="returnInvalid" at the request: a value the DataDictionary does not
 * accept (a category it does not list, a number outside its intervals, a value it declares invalid, a
 * fraction for an integer field) is answered 400, naming the field and the value, before the model
 * runs. Reads only conversion.json's feature record (the PMML converter's optional fields).
 */

export interface ValidityRecord {
  readonly name: string;
  readonly type: string;
  readonly categories?: readonly string[];
  readonly invalidValueTreatment?: string;
  readonly intervals?: readonly { readonly closure: string; readonly left: number | null; readonly right: number | null }[];
  readonly invalidValues?: readonly string[];
  readonly missingValues?: readonly string[];
}

/**
 * Why `value` (as the request sent it: a string, number or boolean; null/undefined are missing) is
 * refused for `feature`, or undefined when it is accepted.
 */
export function invalidValueReason(feature: ValidityRecord, value: unknown): string | undefined {
  if (feature.invalidValueTreatment !== 'returnInvalid' || value === null || value === undefined) return undefined;
  const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
  if (text === undefined) return undefined;
  if (feature.missingValues?.includes(text)) return undefined;
  if (feature.invalidValues?.includes(text)) return `feature "${feature.name}": value ${JSON.stringify(value)} is declared invalid by the model's DataDictionary, whose invalidValueTreatment is returnInvalid`;
  if (feature.type === 'categorical') {
    const categories = feature.categories ?? [];
    if (categories.includes(text) || (typeof value === 'number' && categories.some((c) => Number(c) === value))) return undefined;
    const listed = categories.filter((c) => !feature.missingValues?.includes(c) && !feature.invalidValues?.includes(c));
    return `feature "${feature.name}": value ${JSON.stringify(value)} is not one of its valid values (${listed.slice(0, 20).map((c) => JSON.stringify(c)).join(', ')}${listed.length > 20 ? ', ...' : ''}); the model's invalidValueTreatment is returnInvalid`;
  }
  const n = typeof value === 'number' ? value : Number(text);
  if (Number.isNaN(n)) return undefined;
  if (feature.type === 'integer' && !Number.isInteger(n)) return `feature "${feature.name}": value ${JSON.stringify(value)} is not an integer; the model's invalidValueTreatment is returnInvalid`;
  if (feature.intervals !== undefined && feature.intervals.length > 0) {
    const inside = feature.intervals.some(({ closure, left, right }) => {
      const l = left === null || (closure.startsWith('closed') ? n >= left : n > left);
      const r = right === null || (closure.endsWith('Closed') ? n <= right : n < right);
      return l && r;
    });
    if (!inside) {
      const shown = feature.intervals.map(({ closure, left, right }) => `${closure.startsWith('closed') ? '[' : '('}${left ?? '-inf'}, ${right ?? 'inf'}${closure.endsWith('Closed') ? ']' : ')'}`).join(' or ');
      return `feature "${feature.name}": value ${JSON.stringify(value)} is outside its valid range ${shown}; the model's invalidValueTreatment is returnInvalid`;
    }
  }
  return undefined;
}

/** A feature record's validity rules, when it asks for returnInvalid; undefined otherwise (nothing to check). */
export function readValidity(feature: { readonly name: string; readonly type: string; readonly categories?: readonly string[] } & Record<string, unknown>): ValidityRecord | undefined {
  if (feature.invalidValueTreatment !== 'returnInvalid') return undefined;
  const strings = (v: unknown): readonly string[] | undefined => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined);
  const intervals = Array.isArray(feature.intervals)
    ? feature.intervals.filter((i): i is { closure: string; left: number | null; right: number | null } => typeof i === 'object' && i !== null && typeof (i as { closure?: unknown }).closure === 'string')
    : undefined;
  return {
    name: feature.name,
    type: feature.type,
    invalidValueTreatment: 'returnInvalid',
    ...(feature.categories !== undefined ? { categories: feature.categories } : {}),
    ...(intervals !== undefined ? { intervals } : {}),
    ...(strings(feature.invalidValues) !== undefined ? { invalidValues: strings(feature.invalidValues) } : {}),
    ...(strings(feature.missingValues) !== undefined ? { missingValues: strings(feature.missingValues) } : {}),
  };
}
