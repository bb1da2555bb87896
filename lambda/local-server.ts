/**
 * The local server: each HTTP request becomes an API Gateway REST proxy event handed to the very
 * handler the Lambda function runs, so what works here works deployed.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { BodyTooLargeError, closeServer, readBody } from './http-server.ts';

export type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export interface LocalServerOptions {
  readonly handler: ProxyHandler;
  /** @default 8080 */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Bodies larger than this are refused with 413 before they are read in full. @default 6 MiB */
  readonly maxBodyBytes?: number;
  /** The time each request may take, as the function's timeout. @default 30000 */
  readonly timeoutMs?: number;
  /** Require this key in the x-api-key header of every request. @default - no key required */
  readonly apiKey?: string;
  /**
   * Paths the server answers itself, before the handler (the console): undefined passes the request
   * on. `public` answers (the console's page and scripts) need no API key; the data behind them does.
   */
  readonly routes?: (method: string, path: string) => Promise<{ statusCode: number; headers: Record<string, string>; body: string | Buffer; public?: boolean } | undefined>;
}

export interface LocalServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

const TEXT_TYPES = /^(application\/(json|[\w.+-]*\+json|x-www-form-urlencoded)|text\/)/i;

function toEvent(req: IncomingMessage, body: Buffer): APIGatewayProxyEvent {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const [name, value] = [req.rawHeaders[i], req.rawHeaders[i + 1]];
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [key, value] of url.searchParams) {
    query[key] = value;
    (multiQuery[key] ??= []).push(value);
  }
  const isText = body.length === 0 || req.headers['content-type'] === undefined || TEXT_TYPES.test(req.headers['content-type']);
  const path = decodeURI(url.pathname);
  return {
    resource: '/{proxy+}',
    path,
    httpMethod: req.method ?? 'GET',
    headers,
    multiValueHeaders,
    queryStringParameters: url.searchParams.size > 0 ? query : null,
    multiValueQueryStringParameters: url.searchParams.size > 0 ? multiQuery : null,
    pathParameters: { proxy: path.slice(1) },
    stageVariables: null,
    body: body.length === 0 ? null : isText ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: body.length > 0 && !isText,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      authorizer: null,
      httpMethod: req.method ?? 'GET',
      identity: {
        accessKey: null, accountId: null, apiKey: null, apiKeyId: null, caller: null, clientCert: null,
        cognitoAuthenticationProvider: null, cognitoAuthenticationType: null, cognitoIdentityId: null,
        cognitoIdentityPoolId: null, principalOrgId: null, sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        user: null, userAgent: req.headers['user-agent'] ?? null, userArn: null,
      },
      path: `/local${path}`,
      protocol: `HTTP/${req.httpVersion}`,
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: '/{proxy+}',
      stage: 'local',
    },
  };
}

function toContext(requestId: string, timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'modelship-local',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:modelship-local',
    memoryLimitInMB: '2048',
    awsRequestId: requestId,
    logGroupName: '/aws/lambda/modelship-local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

function send(res: ServerResponse, result: APIGatewayProxyResult): void {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k] = String(v);
  for (const [k, v] of Object.entries(result.multiValueHeaders ?? {})) headers[k] = v.map(String);
  const body = result.isBase64Encoded ? Buffer.from(result.body, 'base64') : Buffer.from(result.body ?? '', 'utf8');
  headers['Content-Length'] = String(body.length);
  res.writeHead(result.statusCode, headers);
  res.end(body);
}

const jsonError = (statusCode: number, message: string): APIGatewayProxyResult => ({
  statusCode,
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ error: message }),
});

export function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const limit = options.maxBodyBytes ?? 6 * 1024 * 1024;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const expectedKey = options.apiKey === undefined ? undefined : Buffer.from(options.apiKey);
  const authorized = (req: IncomingMessage): boolean => {
    if (expectedKey === undefined) return true;
    const given = Buffer.from(String(req.headers['x-api-key'] ?? ''));
    return given.length === expectedKey.length && timingSafeEqual(given, expectedKey);
  };
  const server = createServer(async (req, res) => {
    let result: APIGatewayProxyResult;
    if (options.routes !== undefined) {
      let own: Awaited<ReturnType<NonNullable<LocalServerOptions['routes']>>>;
      try {
        own = await options.routes(req.method ?? 'GET', new URL(req.url ?? '/', 'http://localhost').pathname);
      } catch (error) {
        own = { statusCode: 500, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ error: `console error: ${(error as Error).message}` }) };
      }
      if (own !== undefined && (own.public === true || authorized(req))) {
        req.resume();
        res.writeHead(own.statusCode, { ...own.headers, 'Content-Length': String(Buffer.byteLength(own.body)) });
        res.end(own.body);
        return;
      }
    }
    if (!authorized(req)) {
      req.resume();
      send(res, jsonError(401, 'missing or wrong x-api-key header; the local server was started with API_KEY'));
      return;
    }
    try {
      const body = await readBody(req, limit);
      const event = toEvent(req, body);
      result = await options.handler(event, toContext(event.requestContext.requestId, timeoutMs));
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        result = jsonError(413, error.message);
        res.setHeader('Connection', 'close');
      } else if (error instanceof URIError) {
        result = jsonError(400, `request path is not valid percent-encoding: ${req.url}`);
      } else {
        result = jsonError(500, 'internal error in the local server');
        console.error('local server error', error);
      }
    }
    if (!res.headersSent && !res.destroyed) send(res, result);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => {
      const address = server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({
        url: `http://${host}:${address.port}`,
        server,
        close: () => closeServer(server),
      });
    });
  });
}
