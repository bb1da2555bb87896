/**
 * SageMaker's custom attributes header, `key=value;key=value`: how the API proxy tells the container
 * which route a request is for, and how the container tells the proxy which version answered.
 * Values are percent-encoded, so a value holding `;` or `=` (a path, say) cannot add an attribute.
 */
export const CUSTOM_ATTRIBUTES_HEADER = 'x-amzn-sagemaker-custom-attributes';

const ATTRIBUTE = /(?:^|;)\s*([a-z_]+)=([^;]*)/g;

export function formatCustomAttributes(attributes: Readonly<Record<string, string>>): string {
  return Object.entries(attributes)
    .map(([key, value]) => `${key}=${encodeURIComponent(value)}`)
    .join(';');
}

/** The attributes of a header; a value that is not valid percent-encoding is left out. */
export function parseCustomAttributes(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const match of (header ?? '').matchAll(ATTRIBUTE)) {
    try {
      out[match[1]] = decodeURIComponent(match[2].trim());
    } catch {
      // Not something formatCustomAttributes wrote: ignored.
    }
  }
  return out;
}
