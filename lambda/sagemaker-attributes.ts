/** SageMaker's custom attributes header, `key=value;key=value`: shared by the container server and the API proxy. */
const ATTRIBUTE = /(?:^|;)\s*([a-z_]+)=([^;]*)/g;

export function parseCustomAttributes(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const match of (header ?? '').matchAll(ATTRIBUTE)) out[match[1]] = match[2].trim();
  return out;
}
