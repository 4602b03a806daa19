import { once } from 'node:events';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import YAML from 'yaml';

/**
 * A small REST API on loopback, with its own description in every format the API tools accept
 * (OpenAPI 3.0 JSON, OpenAPI 3.1 YAML, Swagger 2.0, the original LLMOps format). Every request is
 * recorded as received (method, path, query, headers, cookies, raw and parsed body).
 * - `GET|PUT|PATCH|DELETE /items/{id}`, `POST /items`: JSON echo of what arrived; 401 without
 *   `Authorization: Bearer <token>` when a token is set.
 * - `GET /text`: text/plain. `GET /missing/{id}`: 404 with a JSON error (and an extra field that
 *   must not leak). `GET /broken`: 500 with an HTML page. `GET /redirect?to=`: 302 to `to`.
 */

export interface FakeApiRequest {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  headers: IncomingMessage['headers'];
  cookies: Record<string, string>;
  rawBody: string;
  body: unknown;
}

export const LEAK_MARKER = 'FAKE-API-INTERNAL-DETAIL-4e1f';

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

export class FakeOpenApi {
  readonly requests: FakeApiRequest[] = [];
  /** When set, item routes need `Authorization: Bearer <token>`. */
  token: string | null = null;
  private server?: Server;
  private port = 0;

  constructor(private readonly host = '127.0.0.1') {}

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    this.server.listen(0, this.host);
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((r) => this.server!.close(r));
  }

  last(): FakeApiRequest | undefined {
    return this.requests[this.requests.length - 1];
  }

  private handle(req: IncomingMessage, rawBody: string, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query: Record<string, string | string[]> = {};
    for (const key of new Set(url.searchParams.keys())) {
      const all = url.searchParams.getAll(key);
      query[key] = all.length > 1 ? all : all[0];
    }
    let body: unknown = rawBody;
    const type = req.headers['content-type'] ?? '';
    if (type.includes('json') && rawBody) body = JSON.parse(rawBody) as unknown;
    else if (type.includes('x-www-form-urlencoded'))
      body = Object.fromEntries(new URLSearchParams(rawBody));
    const seen: FakeApiRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      headers: req.headers,
      cookies: parseCookies(req.headers.cookie),
      rawBody,
      body,
    };
    this.requests.push(seen);
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(value));
    };
    const path = url.pathname;
    if (path === '/text') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('plain text answer');
      return;
    }
    if (path.startsWith('/missing/')) {
      json(404, { error: { message: `item ${path.slice(9)} is gone` }, debug: LEAK_MARKER });
      return;
    }
    if (path === '/broken') {
      res.writeHead(500, { 'content-type': 'text/html' });
      res.end(`<html><body><pre>${LEAK_MARKER}</pre></body></html>`);
      return;
    }
    if (path === '/redirect') {
      res.writeHead(302, { location: url.searchParams.get('to') ?? '/' });
      res.end();
      return;
    }
    if (this.token && req.headers.authorization !== `Bearer ${this.token}`) {
      json(401, { error: 'missing or wrong token' });
      return;
    }
    const m = /^\/items(?:\/([^/]+))?$/.exec(path);
    if (!m) {
      json(404, { error: 'no such route' });
      return;
    }
    if (req.method === 'DELETE') {
      res.writeHead(204);
      res.end();
      return;
    }
    json(req.method === 'POST' ? 201 : 200, {
      ok: true,
      method: req.method,
      id: m[1] === undefined ? null : decodeURIComponent(m[1]),
      query,
      body,
    });
  }

  /** OpenAPI 3.0 document (JSON text) of this server, with `$ref`s into components. */
  openapi30(): string {
    return JSON.stringify(openapi3(this.url, '3.0.3'));
  }

  /** OpenAPI 3.1 document (YAML text). */
  openapi31(): string {
    return YAML.stringify(openapi3(this.url, '3.1.0'));
  }

  /** Swagger 2.0 document (JSON text). */
  swagger20(): string {
    const u = new URL(this.url);
    const ok = { '200': { description: 'ok' } };
    const itemId = { name: 'id', in: 'path', required: true, type: 'integer' };
    return JSON.stringify({
      swagger: '2.0',
      info: { title: 'Fake items', version: '1', description: 'Items over Swagger 2.0' },
      host: u.host,
      schemes: ['http'],
      paths: {
        '/items/{id}': {
          get: {
            operationId: 'getItem',
            description: 'Read one item',
            parameters: [
              itemId,
              { name: 'verbose', in: 'query', type: 'boolean' },
              { name: 'X-Request-Tag', in: 'header', type: 'string' },
            ],
            responses: ok,
          },
          put: {
            operationId: 'replaceItem',
            parameters: [
              itemId,
              { name: 'item', in: 'body', required: true, schema: { $ref: '#/definitions/Item' } },
            ],
            responses: ok,
          },
          patch: {
            operationId: 'patchItem',
            consumes: ['application/x-www-form-urlencoded'],
            parameters: [itemId, { name: 'price', in: 'formData', type: 'number' }],
            responses: ok,
          },
          delete: { operationId: 'deleteItem', parameters: [itemId], responses: ok },
        },
        '/items': {
          post: {
            operationId: 'createItem',
            parameters: [{ name: 'item', in: 'body', schema: { $ref: '#/definitions/Item' } }],
            responses: ok,
          },
        },
      },
      definitions: {
        Item: {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string' }, price: { type: 'number' } },
        },
      },
    });
  }

  /** The original LLMOps format: `server`, `description`, get/post with typed parameters. */
  llmops(): string {
    return JSON.stringify({
      server: this.url,
      description: 'Items in the LLMOps format',
      paths: {
        '/items/{id}': {
          get: {
            description: 'Read one item',
            operationId: 'getItem',
            parameters: [
              { name: 'id', in: 'path', description: 'Item id', required: true, type: 'int' },
              { name: 'verbose', in: 'query', description: '', required: false, type: 'bool' },
              { name: 'session', in: 'cookie', description: '', required: false, type: 'str' },
            ],
          },
        },
        '/items': {
          post: {
            description: 'Create an item',
            operationId: 'createItem',
            parameters: [
              {
                name: 'name',
                in: 'request_body',
                description: 'Name',
                required: true,
                type: 'str',
              },
              {
                name: 'price',
                in: 'request_body',
                description: '',
                required: false,
                type: 'float',
              },
              {
                name: 'X-Request-Tag',
                in: 'header',
                description: '',
                required: false,
                type: 'str',
              },
            ],
          },
        },
      },
    });
  }
}

function openapi3(url: string, version: string): Record<string, unknown> {
  const ok = { '200': { description: 'ok' } };
  const itemId = { $ref: '#/components/parameters/ItemId' };
  const itemBody = (required: boolean) => ({
    required,
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Item' } } },
  });
  return {
    openapi: version,
    info: { title: 'Fake items', version: '1', description: `Items over OpenAPI ${version}` },
    servers: [{ url }],
    paths: {
      '/items/{id}': {
        parameters: [itemId],
        get: {
          operationId: 'getItem',
          summary: 'Read one item',
          parameters: [
            { name: 'verbose', in: 'query', schema: { type: 'boolean' } },
            { name: 'tags', in: 'query', schema: { type: 'array', items: { type: 'string' } } },
            { name: 'X-Request-Tag', in: 'header', schema: { type: 'string' } },
            { name: 'session', in: 'cookie', schema: { type: 'string' } },
          ],
          responses: ok,
        },
        put: { operationId: 'replaceItem', requestBody: itemBody(true), responses: ok },
        patch: { operationId: 'patchItem', requestBody: itemBody(false), responses: ok },
        delete: {
          operationId: 'deleteItem',
          parameters: [
            { name: 'X-Reason', in: 'header', required: true, schema: { type: 'string' } },
          ],
          responses: { '204': { description: 'gone' } },
        },
      },
      '/items': {
        post: {
          operationId: 'createItem',
          description: 'Create an item',
          parameters: [{ name: 'dry', in: 'query', schema: { type: 'boolean' } }],
          requestBody: itemBody(true),
          responses: { '201': { description: 'created' } },
        },
      },
      '/text': { get: { operationId: 'getText', responses: ok } },
      '/missing/{id}': {
        get: {
          operationId: 'getMissing',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: ok,
        },
      },
      '/broken': { get: { operationId: 'getBroken', responses: ok } },
      '/redirect': {
        get: {
          operationId: 'followRedirect',
          parameters: [{ name: 'to', in: 'query', required: true, schema: { type: 'string' } }],
          responses: ok,
        },
      },
    },
    components: {
      parameters: {
        ItemId: { name: 'id', in: 'path', required: true, schema: { type: 'integer' } },
      },
      schemas: {
        Item: {
          type: 'object',
          required: ['name'],
          properties: {
            name: { type: 'string', description: 'Item name' },
            price: { type: 'number' },
            tags: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    },
  };
}
