/**
 * The local server is a developer tool that is often left running while its owner browses: other
 * sites must not reach it through DNS rebinding, post to it cross-origin, or make it work before the
 * API key is checked.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { request } from 'node:http';

import { describe, it } from 'node:test';
import { feedbackFile } from '../../../../lambda/adapters/local/delivery.ts';
import type { ModelSource } from '../../../../lambda/core/model-source.ts';
import { DirectorySource } from '../../../../lambda/stores/directory-source.ts';
import { SAMPLES_DIR, startTestLocalServer } from '../../../helpers.ts';

/** An HTTP request with headers fetch will not let a page set (Host), as a rebinding page's request arrives. */
function raw(url: string, method: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // An empty Host means none at all (Node would otherwise fill it in).
    const req = request(url, { method, headers: headers.Host === '' ? {} : headers, setHost: headers.Host !== '' }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const FEEDBACK = JSON.stringify({ model_version: '1', outcome: 1 });

describe('local server against browser attacks', () => {
  it('answers only loopback host names and its own HOST (DNS rebinding)', async () => {
    const local = await startTestLocalServer(SAMPLES_DIR);
    try {
      const port = new URL(local.url).port;
      // No Host at all: Node's HTTP server refuses an HTTP/1.1 request without one (400) before we see it.
      assert.equal((await raw(`${local.url}/v2/models/iris_forest`, 'GET', { Host: '' })).status, 400);
      for (const host of ['evil.example', `evil.example:${port}`, `192.168.1.5:${port}`, `localhost.evil.example:${port}`]) {
        const answer = await raw(`${local.url}/v2/models/iris_forest`, 'GET', { Host: host });
        assert.equal(answer.status, 403, `Host "${host}": ${answer.body}`);
        assert.match(JSON.parse(answer.body).error, /is not this server's; the local server answers only loopback host names/);
        assert.equal((await raw(`${local.url}/`, 'GET', { Host: host })).status, 403, `the console page too, for ${host}`);
      }
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `127.0.0.2:${port}`, 'localhost']) {
        assert.equal((await raw(`${local.url}/v2/models/iris_forest`, 'GET', { Host: host })).status, 200, host);
      }
    } finally {
      await local.close();
    }
  });

  it('refuses a cross-origin post (a simple text/plain one needs no preflight) and records nothing', async () => {
    const local = await startTestLocalServer(SAMPLES_DIR);
    try {
      const url = `${local.url}/v2/models/iris_forest/feedback`;
      const crossSite = await fetch(url, { method: 'POST', body: FEEDBACK, headers: { 'Content-Type': 'text/plain', Origin: 'https://evil.example' } });
      assert.equal(crossSite.status, 403);
      assert.match(((await crossSite.json()) as { error: string }).error, /^cross-origin POST from https:\/\/evil\.example refused; start the server with CORS_ORIGINS=https:\/\/evil\.example/);
      assert.equal((await fetch(url, { method: 'POST', body: FEEDBACK, headers: { Origin: 'null' } })).status, 403, 'a sandboxed page');
      assert.equal(existsSync(feedbackFile(local.runtime.options.dataDir, 'iris_forest')), false, 'nothing was written');
      // The console's own page posts from the server's origin; reading (GET) is not a state change.
      assert.equal((await fetch(url, { method: 'POST', body: FEEDBACK, headers: { Origin: local.url } })).status, 202);
      assert.equal((await fetch(`${local.url}/v2/health/ready`, { headers: { Origin: 'https://evil.example' } })).status, 200);
    } finally {
      await local.close();
    }
  });

  it('lets origins named in CORS_ORIGINS post, with CORS headers', async () => {
    const local = await startTestLocalServer(SAMPLES_DIR, { corsOrigins: ['https://app.example.com'] });
    try {
      const answer = await fetch(`${local.url}/v2/models/iris_forest/feedback`, { method: 'POST', body: FEEDBACK, headers: { Origin: 'https://app.example.com' } });
      assert.equal(answer.status, 202);
      assert.equal(answer.headers.get('access-control-allow-origin'), 'https://app.example.com');
      assert.equal((await fetch(`${local.url}/v2/models/iris_forest/feedback`, { method: 'POST', body: FEEDBACK, headers: { Origin: 'https://other.example' } })).status, 403);
    } finally {
      await local.close();
    }
  });

  it('does no work for a request without the API key: no catalog read, no model load', async () => {
    const store = new DirectorySource(SAMPLES_DIR);
    const touched: string[] = [];
    const source: ModelSource = {
      location: store.location,
      listFiles: (under) => (touched.push(`list ${under ?? ''}`), store.listFiles(under)),
      readFile: (path) => (touched.push(`read ${path}`), store.readFile(path)),
    };
    const local = await startTestLocalServer(source, { apiKey: 'k-123456' });
    try {
      for (const path of ['/console/api/models', '/console/api/stats', '/v2/models/iris_forest', '/v2/health/ready']) {
        const answer = await fetch(`${local.url}${path}`);
        assert.equal(answer.status, 401, path);
      }
      const infer = await fetch(`${local.url}/v2/models/iris_forest/infer`, { method: 'POST', body: '{"inputs": []}' });
      assert.equal(infer.status, 401);
      assert.equal((await fetch(`${local.url}/`)).status, 200, 'the page itself holds no data');
      assert.equal(touched.length, 0, `touched before the key check: ${touched.join(", ")}`);
      assert.equal((await fetch(`${local.url}/console/api/models`, { headers: { 'x-api-key': 'k-123456' } })).status, 200);
      assert.ok(touched.some((t) => t.startsWith('read ') && t.endsWith('model.onnx')), 'with the key, the models load');
    } finally {
      await local.close();
    }
  });
});

