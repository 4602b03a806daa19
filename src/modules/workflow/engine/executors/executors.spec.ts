import { OutboundHttpClient } from '@app/http';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  Condition,
  HttpRequestNode,
  IfElseNode,
  Variable,
} from 'src/modules/workflow/graph/graph.types';
import { endNode, generated, graphOf, literal, ref, startNode } from '../testing/graph-builder';
import { ExecutorRegistry, WorkflowEngine } from '../workflow-engine';
import { holds, IfElseExecutor } from './basic.executors';
import { registerCoreExecutors } from './index';

const ACCOUNT = '00000000-0000-4000-8000-000000000001';

describe('if_else conditions', () => {
  const c = (operator: Condition['operator'], value?: unknown): Condition => ({
    variable: 'x',
    operator,
    value,
  });
  const cases: Array<[Condition, unknown, boolean]> = [
    [c('equals', 'a'), 'a', true],
    [c('equals', 5), '5', true],
    [c('equals', { k: 1 }), { k: 1 }, true],
    [c('equals', 'a'), 'b', false],
    [c('not_equals', 'a'), 'b', true],
    [c('contains', 'ell'), 'hello', true],
    [c('contains', 2), [1, 2, 3], true],
    [c('contains', 'z'), 'hello', false],
    [c('not_contains', 'z'), 'hello', true],
    [c('starts_with', 'he'), 'hello', true],
    [c('ends_with', 'lo'), 'hello', true],
    [c('ends_with', 'he'), 'hello', false],
    [c('is_empty'), '', true],
    [c('is_empty'), [], true],
    [c('is_empty'), null, true],
    [c('is_empty'), 'x', false],
    [c('is_not_empty'), { a: 1 }, true],
    [c('gt', 3), 5, true],
    [c('gt', 5), 5, false],
    [c('gte', 5), '5', true],
    [c('lt', 10), 9.5, true],
    [c('lte', 1), 2, false],
    [c('gt', 1), 'abc', false],
    [c('gt', ''), 5, false],
  ];
  it.each(cases)('%j on %j is %s', (cond, x, expected) => {
    expect(holds(cond, { x })).toBe(expected);
  });

  const node = (logical_operator: 'and' | 'or'): IfElseNode => ({
    id: 'I',
    node_type: 'if_else',
    title: 'I',
    description: '',
    position: { x: 0, y: 0 },
    inputs: [],
    outputs: [],
    branches: [
      {
        id: 'first',
        logical_operator,
        conditions: [c('gt', 10), c('lt', 0)],
      },
      { id: 'second', logical_operator: 'and', conditions: [c('gt', 0)] },
    ],
  });

  it('and needs every condition, or any; the first holding branch wins, else `else`', async () => {
    const ex = new IfElseExecutor();
    expect((await ex.run(node('or'), { x: 20 })).handle).toBe('first');
    expect((await ex.run(node('and'), { x: 20 })).handle).toBe('second');
    expect((await ex.run(node('and'), { x: 0 })).handle).toBe('else');
  });
});

describe('http_request', () => {
  let server: Server;
  let base: string;
  let client: OutboundHttpClient;
  let engine: WorkflowEngine;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (ch: Buffer) => chunks.push(ch));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        if (url.pathname === '/slow') {
          setTimeout(() => res.end('late'), 2000).unref();
          return;
        }
        if (url.pathname === '/hop') {
          // To a loopback address the client does not allow: the guard must stop that hop.
          const port = (server.address() as AddressInfo).port;
          res.writeHead(302, { location: `http://127.0.0.2:${port}/echo` }).end();
          return;
        }
        res.statusCode = url.pathname === '/fail' ? 503 : 200;
        res.setHeader('content-type', 'application/json');
        res.setHeader('x-answer', '42');
        res.end(
          JSON.stringify({
            method: req.method,
            query: Object.fromEntries(url.searchParams),
            token: req.headers['x-token'] ?? null,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new OutboundHttpClient({
      allowHosts: ['127.0.0.1'],
      timeoutMs: 5000,
      maxResponseBytes: 1_000_000,
      maxRetries: 2,
    });
    engine = new WorkflowEngine(registerCoreExecutors(new ExecutorRegistry(), { http: client }));
  });

  afterAll(async () => {
    await client.close();
    server.close();
  });

  const withPlace = (v: Variable, type: 'params' | 'headers' | 'body'): Variable => ({
    ...v,
    meta: { type },
  });

  function graph(
    url: string,
    method: HttpRequestNode['method'],
    extra: Partial<HttpRequestNode> = {},
  ) {
    const http: HttpRequestNode = {
      id: 'H',
      node_type: 'http_request',
      title: 'H',
      description: '',
      position: { x: 0, y: 0 },
      url,
      method,
      inputs: [
        withPlace(ref('q', 'S', 'q'), 'params'),
        withPlace(literal('x-token', 'secret'), 'headers'),
        withPlace(ref('n', 'S', 'n', 'int'), 'body'),
        withPlace(literal('msg', 'hi'), 'body'),
      ],
      outputs: [generated('status_code', 'int'), generated('text')],
      ...extra,
    };
    return graphOf(
      [
        startNode('S', [{ name: 'q' }, { name: 'n', type: 'int' }]),
        http,
        endNode('E', [ref('status', 'H', 'status_code', 'int'), ref('text', 'H', 'text')]),
      ],
      [
        ['S', 'H'],
        ['H', 'E'],
      ],
    );
  }

  it('sends params, headers and a JSON body; answers status_code, text and headers', async () => {
    let headers: unknown;
    const result = await engine.execute(
      graph(`${base}/echo?fixed=1`, 'post'),
      { q: 'cats', n: '3' },
      {
        accountId: ACCOUNT,
        onEvent: (e) => {
          if (e.node_id === 'H' && e.status === 'succeeded') headers = e.outputs.headers;
        },
      },
    );
    expect(result.status).toBe('succeeded');
    expect(result.outputs.status).toBe(200);
    expect(JSON.parse(result.outputs.text as string)).toEqual({
      method: 'POST',
      query: { fixed: '1', q: 'cats' },
      token: 'secret',
      body: JSON.stringify({ n: 3, msg: 'hi' }),
    });
    expect(headers).toMatchObject({ 'x-answer': '42' });
  });

  it('sends no body with GET; a 5xx answer is an output, not a failure (and not retried)', async () => {
    const result = await engine.execute(
      graph(`${base}/fail`, 'get'),
      { q: 'a', n: 1 },
      {
        accountId: ACCOUNT,
      },
    );
    expect(result.status).toBe('succeeded');
    expect(result.outputs.status).toBe(503);
    expect(JSON.parse(result.outputs.text as string)).toMatchObject({ method: 'GET', body: '' });
  });

  it("the node's timeout bounds the request", async () => {
    const t0 = Date.now();
    const result = await engine.execute(
      graph(`${base}/slow`, 'get', { timeout_ms: 200 }),
      { q: 'a', n: 1 },
      { accountId: ACCOUNT },
    );
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(/timed out/);
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it('checks every redirect hop: a redirect to a private address not allowed fails the node', async () => {
    const result = await engine.execute(
      graph(`${base}/hop`, 'get'),
      { q: 'a', n: 1 },
      { accountId: ACCOUNT },
    );
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(/Node "H" \(H\) failed: .*(not allowed|private|blocked)/i);
  });

  it('the SSRF guard applies: a private address not allowed fails the node', async () => {
    const strict = new OutboundHttpClient({
      timeoutMs: 2000,
      maxResponseBytes: 1000,
      maxRetries: 0,
    });
    const guarded = new WorkflowEngine(
      registerCoreExecutors(new ExecutorRegistry(), { http: strict }),
    );
    const result = await guarded.execute(
      graph(`${base}/echo`, 'get'),
      { q: 'a', n: 1 },
      {
        accountId: ACCOUNT,
      },
    );
    await strict.close();
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(/Node "H" \(H\) failed: .*(not allowed|private|blocked)/i);
  });
});
