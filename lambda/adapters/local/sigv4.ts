/**
 * The local server's IAM check (AUTH=iam): AWS Signature Version 4 verified as API Gateway verifies
 * it for `execute-api`, with API Gateway's 403 answers, so a client that passes here passes there.
 *
 * The signature itself is computed by the AWS SDK's own signer (`@smithy/signature-v4`): the
 * received request, cut down to the headers it says it signed, is signed again with the server's
 * credentials at the request's own date, and the two signatures are compared in constant time. What
 * is written here by hand is what no AWS library offers, since the SDKs sign and never verify:
 * reading the Authorization header, the checks API Gateway makes before it computes anything
 * (credential scope, clock skew, access key, session token, signed host), turning the raw request
 * target into the path and query the signer takes, and API Gateway's messages.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Sha256 } from '@smithy/core/checksum';
import { getCanonicalHeaders, SignatureV4 } from '@smithy/signature-v4';

export interface SigV4Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Temporary credentials' token: requests must then carry it in X-Amz-Security-Token. @default - long-term credentials: no token */
  readonly sessionToken?: string;
}

export interface SigV4VerifierOptions {
  readonly credentials: SigV4Credentials;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default 'execute-api' */
  readonly service?: string;
  /** How far the request's X-Amz-Date may be from the server's clock, as API Gateway allows. @default 15 minutes */
  readonly maxSkewMs?: number;
}

/** A request as it arrived: the request target as sent (path and query, percent-encoded), every header line, the body. */
export interface ReceivedRequest {
  readonly method: string;
  readonly target: string;
  /** Name and value of every header line, in order, as Node's rawHeaders gives them (flat or paired). */
  readonly headers: readonly (readonly [string, string])[];
  readonly body?: Uint8Array;
}

/** API Gateway's answer to a request it refuses: 403, a `{"message"}` body, the error type in x-amzn-ErrorType. */
export interface SigV4Refusal {
  readonly statusCode: 403;
  readonly errorType: 'MissingAuthenticationTokenException' | 'IncompleteSignatureException' | 'InvalidSignatureException' | 'UnrecognizedClientException';
  readonly message: string;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const FIFTEEN_MINUTES = 15 * 60 * 1000;

const refuse = (errorType: SigV4Refusal['errorType'], message: string): SigV4Refusal => ({ statusCode: 403, errorType, message });

/** YYYYMMDDTHHMMSSZ, as SigV4 writes dates. */
const basicDate = (date: Date) => date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

/** The signer, with its canonical request and string to sign reachable for API Gateway's mismatch message. */
class ReceivedRequestSigner extends SignatureV4 {
  async explain(request: Parameters<SignatureV4['sign']>[0] & { headers: Record<string, string> }, signedHeaders: Set<string>, payloadHash: string, longDate: string, scope: string) {
    const canonicalRequest = this.createCanonicalRequest(request, getCanonicalHeaders(request, undefined, signedHeaders), payloadHash);
    return { canonicalRequest, stringToSign: await this.createStringToSign(longDate, scope, canonicalRequest, ALGORITHM) };
  }
}

export class SigV4Verifier {
  private readonly credentials: SigV4Credentials;
  private readonly region: string;
  private readonly service: string;
  private readonly maxSkewMs: number;
  private readonly signer: ReceivedRequestSigner;

  constructor(options: SigV4VerifierOptions) {
    this.credentials = options.credentials;
    this.region = options.region ?? 'us-east-1';
    this.service = options.service ?? 'execute-api';
    this.maxSkewMs = options.maxSkewMs ?? FIFTEEN_MINUTES;
    // The token is checked on its own (below): whether the client signed it is its choice, as in AWS.
    this.signer = new ReceivedRequestSigner({
      credentials: { accessKeyId: options.credentials.accessKeyId, secretAccessKey: options.credentials.secretAccessKey },
      region: this.region,
      service: this.service,
      sha256: Sha256,
      // S3's X-Amz-Content-SHA256 header is no part of execute-api's signature.
      applyChecksum: false,
    });
  }

  /** undefined when the request is signed by the server's credentials; otherwise API Gateway's refusal. */
  async verify(request: ReceivedRequest, now: Date = new Date()): Promise<SigV4Refusal | undefined> {
    const headers = joinHeaders(request.headers);
    const authorization = headers.get('authorization');
    if (authorization === undefined) return refuse('MissingAuthenticationTokenException', 'Missing Authentication Token');

    const parsed = parseAuthorization(authorization);
    if (typeof parsed === 'string') return refuse('IncompleteSignatureException', parsed);
    const amzDate = headers.get('x-amz-date');
    if (amzDate === undefined) return refuse('IncompleteSignatureException', `Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=${authorization}`);
    const date = parseBasicDate(amzDate);
    if (date === undefined) return refuse('IncompleteSignatureException', `Date must be in ISO-8601 'basic format'. Got '${amzDate}'. See http://en.wikipedia.org/wiki/ISO_8601`);

    const [accessKeyId, scopeDate, region, service, terminator, ...extra] = parsed.credential.split('/');
    if (extra.length > 0 || terminator === undefined) return refuse('IncompleteSignatureException', `Credential should have at least 5 slash-separated parts, not ${parsed.credential.split('/').length}.`);
    if (scopeDate !== amzDate.slice(0, 8)) return refuse('InvalidSignatureException', `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`);
    if (terminator !== 'aws4_request') return refuse('InvalidSignatureException', `Credential should be scoped with a valid terminator: 'aws4_request', not '${terminator}'. `);
    if (service !== this.service) return refuse('InvalidSignatureException', `Credential should be scoped to correct service: '${this.service}'. `);
    if (region !== this.region) return refuse('InvalidSignatureException', `Credential should be scoped to a valid region, not '${region}'. `);

    const skew = date.getTime() - now.getTime();
    if (skew < -this.maxSkewMs) return refuse('InvalidSignatureException', `Signature expired: ${amzDate} is now earlier than ${basicDate(new Date(now.getTime() - this.maxSkewMs))} (${basicDate(now)} - ${this.maxSkewMs / 60_000} min.)`);
    if (skew > this.maxSkewMs) return refuse('InvalidSignatureException', `Signature not yet current: ${amzDate} is still later than ${basicDate(new Date(now.getTime() + this.maxSkewMs))} (${basicDate(now)} + ${this.maxSkewMs / 60_000} min.)`);

    const token = headers.get('x-amz-security-token');
    if (!sameText(accessKeyId, this.credentials.accessKeyId) || (token !== undefined) !== (this.credentials.sessionToken !== undefined) || (token !== undefined && !sameText(token, this.credentials.sessionToken!))) {
      return refuse('UnrecognizedClientException', 'The security token included in the request is invalid.');
    }
    if (!parsed.signedHeaders.includes('host') && !parsed.signedHeaders.includes(':authority')) {
      return refuse('IncompleteSignatureException', `'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.`);
    }

    // The request as the signer takes it: only the headers the client signed (a missing one signs as
    // absent and so mismatches), the path as sent (the signer normalizes and encodes it again, as
    // SigV4 does for every service but S3), the query decoded (the signer encodes it again).
    const signedHeaders = new Set(parsed.signedHeaders);
    const toSign: Record<string, string> = {};
    for (const name of signedHeaders) {
      const value = headers.get(name);
      if (value !== undefined) toSign[name] = value;
    }
    const [path, query] = splitTarget(request.target);
    const body = request.body ?? new Uint8Array(0);
    // The signer trusts X-Amz-Content-SHA256 as the payload's hash (S3 streams bodies it cannot hash);
    // here the body is at hand, so a declared hash must be the body's.
    const bodyHash = createHash('sha256').update(body).digest('hex');
    const declaredHash = headers.get('x-amz-content-sha256');
    const bodyMatches = declaredHash === undefined || declaredHash === bodyHash;
    const signable = { method: request.method, protocol: 'https:', hostname: headers.get('host') ?? '', path, query, headers: toSign, body };
    const signed = await this.signer.sign(signable, { signingDate: date, signableHeaders: signedHeaders });
    const expected = /Signature=([0-9a-f]{64})$/.exec(String(signed.headers.authorization))![1];
    if (bodyMatches && sameText(parsed.signature, expected)) return undefined;

    const { canonicalRequest, stringToSign } = await this.signer.explain({ ...signable, headers: { ...toSign, 'x-amz-date': amzDate } }, signedHeaders, bodyHash, amzDate, `${scopeDate}/${region}/${service}/aws4_request`);
    return refuse(
      'InvalidSignatureException',
      `The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'${canonicalRequest}'\n\nThe String-to-Sign should have been\n'${stringToSign}'\n`,
    );
  }
}

/** Header lines by lower-cased name; repeated lines joined with commas, as SigV4 canonicalizes them. */
function joinHeaders(lines: readonly (readonly [string, string])[]): Map<string, string> {
  const headers = new Map<string, string>();
  for (const [name, value] of lines) {
    const key = name.toLowerCase();
    const seen = headers.get(key);
    headers.set(key, seen === undefined ? value : `${seen},${value}`);
  }
  return headers;
}

/** Node's rawHeaders (name, value, name, value, ...) as pairs. */
export function headerPairs(rawHeaders: readonly string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) pairs.push([rawHeaders[i], rawHeaders[i + 1]]);
  return pairs;
}

/** `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`, or API Gateway's message for what is wrong with it. */
function parseAuthorization(header: string): { credential: string; signedHeaders: string[]; signature: string } | string {
  const space = header.indexOf(' ');
  const algorithm = space < 0 ? header : header.slice(0, space);
  const fields = new Map<string, string>();
  for (const part of (space < 0 ? '' : header.slice(space + 1)).split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const equals = item.indexOf('=');
    if (equals < 0 || algorithm !== ALGORITHM) {
      return `Invalid key=value pair (missing equal-sign) in Authorization header (hashed with SHA-256 and encoded with Base64): '${createHash('sha256').update(header).digest('base64')}'.`;
    }
    fields.set(item.slice(0, equals), item.slice(equals + 1));
  }
  if (algorithm !== ALGORITHM) return `Unsupported authorization type: '${algorithm.slice(0, 40)}'; sign the request with AWS Signature Version 4 (${ALGORITHM}).`;
  const missing = ['Credential', 'Signature', 'SignedHeaders'].filter((name) => !fields.has(name));
  if (missing.length > 0) return `${missing.map((name) => `Authorization header requires '${name}' parameter.`).join(' ')} Authorization=${header}`;
  return { credential: fields.get('Credential')!, signedHeaders: fields.get('SignedHeaders')!.split(';'), signature: fields.get('Signature')! };
}

function parseBasicDate(text: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (m === null) return undefined;
  const date = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
  return Number.isNaN(date.getTime()) || basicDate(date) !== text ? undefined : date;
}

/** The request target's path as sent, and its query decoded (repeated keys as lists), as the signer takes them. */
function splitTarget(target: string): [string, Record<string, string | string[]>] {
  const mark = target.indexOf('?');
  if (mark < 0) return [target, {}];
  const query: Record<string, string | string[]> = {};
  for (const pair of target.slice(mark + 1).split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const key = decode(equals < 0 ? pair : pair.slice(0, equals));
    const value = equals < 0 ? '' : decode(pair.slice(equals + 1));
    const seen = query[key];
    query[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return [target.slice(0, mark), query];
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function sameText(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
