import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { postStream } from '@test/support/model-test-utils';
import { emitWithAck, nextEvent, SocketTracker } from '@test/support/socket-client';
import { consoleRequests } from '@test/support/console-requests';
import { createServer, request, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  endNode,
  generated,
  graphOf,
  literal,
  ref,
  startNode,
  templateNode,
} from 'src/modules/workflow/engine/testing/graph-builder';
import type { WorkflowGraph, WorkflowNode } from 'src/modules/workflow/graph/graph.types';
import { WorkflowRunService } from 'src/modules/workflow/runs/workflow-run.service';
import { DataSource } from 'typeorm';

/**
 * Workflow runs end to end: the debug stream as the console reads it (CONSOLE-SHAPES §3.4, §5),
 * validation errors before the stream, the debug pass enabling publish, a client leaving
 * mid-run, queued runs of the published graph with their socket events, the run history, and
 * another account's runs answering not_found.
 */

type Json = Record<string, any>;
interface Envelope<T = Json> {
  code: string;
  message: string;
  data: T;
}

const ifElse = (id: string): WorkflowNode =>
  ({
    id,
    node_type: 'if_else',
    title: 'Check',
    description: '',
    position: { x: 10, y: 20 },
    inputs: [ref('q', 'S', 'query')],
    branches: [
      {
        id: 'yes',
        logical_operator: 'and',
        conditions: [{ variable: 'q', operator: 'equals', value: 'go' }],
      },
    ],
    outputs: [],
  }) as unknown as WorkflowNode;

/** S -> IF -(yes)-> A, -(else)-> B; A, B -> E. With query "go", B is skipped. */
function branchingGraph(): WorkflowGraph {
  const g = graphOf(
    [
      startNode('S', [{ name: 'query' }, { name: 'n', type: 'int', required: false }]),
      ifElse('IF'),
      templateNode('A', 'A: {{ q }} {{ n }}', [ref('q', 'S', 'query'), ref('n', 'S', 'n', 'int')]),
      templateNode('B', 'B: {{ q }}', [ref('q', 'S', 'query')]),
      endNode('E', [ref('answer', 'A', 'output'), literal('fixed', 'yes')]),
    ],
    [
      ['S', 'IF'],
      ['IF', 'A', 'yes'],
      ['IF', 'B', 'else'],
      ['A', 'E'],
      ['B', 'E'],
    ],
  );
  g.nodes.forEach((n, i) => (n.title = `${n.node_type} ${i}`));
  return g;
}

const httpNode = (id: string, url: string): WorkflowNode =>
  ({
    id,
    node_type: 'http_request',
    title: `Call ${id}`,
    description: '',
    position: { x: 0, y: 0 },
    url,
    method: 'get',
    inputs: [],
    outputs: [generated('status_code', 'int'), generated('text')],
  }) as unknown as WorkflowNode;

describe('Workflow runs (e2e)', () => {
  let t: TestApp;
  let a: TestAccount;
  let b: TestAccount;
  let server: Server;
  let base: string;
  const hits = new Map<string, number>();
  const sockets = new SocketTracker();

  beforeAll(async () => {
    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      hits.set(path, (hits.get(path) ?? 0) + 1);
      const delay = path === '/slow' ? 800 : 0;
      setTimeout(() => res.end(`hit ${path}`), delay).unref();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    t = await createTestApp({
      env: { OUTBOUND_ALLOW_HOSTS: '127.0.0.1', SSE_PING_INTERVAL_MS: '150' },
    });
    [a, b] = await Promise.all([createAccount(t), createAccount(t)]);
  });
  afterEach(() => sockets.closeAll());
  afterAll(async () => {
    await t?.close();
    await new Promise((r) => server?.close(r));
  });

  const { get, post } = consoleRequests(() => t);
  let seq = 0;
  const create = async (acc: TestAccount, graph: WorkflowGraph): Promise<string> => {
    seq += 1;
    const res = await post<{ id: string }>(acc, '/workflows', {
      name: `Run flow ${seq}`,
      tool_call_name: `run_flow_${seq}`,
      icon: 'http://localhost/i.png',
      description: 'Runs',
    });
    expect(res.code).toBe('success');
    expect((await post(acc, `/workflows/${res.data.id}/draft-graph`, graph)).code).toBe('success');
    return res.data.id;
  };
  const debug = (acc: TestAccount, id: string, inputs: Json) =>
    postStream(t.url, `/workflows/${id}/debug`, inputs, acc.auth);
  const waitRun = async (acc: TestAccount, id: string, runId: string): Promise<Json> => {
    for (const until = Date.now() + 15_000; ;) {
      const r = await get(acc, `/workflows/${id}/runs/${runId}`);
      expect(r.code).toBe('success');
      if (r.data.status !== 'running') return r.data;
      if (Date.now() > until) throw new Error(`run still running: ${JSON.stringify(r.data)}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  };

  it('streams one workflow frame per node that ran, shaped as the console reads them', async () => {
    const graph = branchingGraph();
    const id = await create(a, graph);
    const res = await debug(a, id, { query: 'go' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.headers['content-type']).not.toMatch(/application\/json/);
    expect(res.raw).toMatch(/^((event: workflow\ndata: \{.*\}|: ping)\n\n)+$/);

    const frames = res.frames;
    // B took the dead branch: no frame (the console sums latency and shows the last frame).
    expect(frames.map((f) => f.data.node_data.id)).toEqual(['S', 'IF', 'A', 'E']);
    expect(new Set(frames.map((f) => f.data.id)).size).toBe(4);
    for (const f of frames) {
      expect(f.event).toBe('workflow');
      expect(Object.keys(f.data).sort()).toEqual(
        ['error', 'id', 'inputs', 'latency', 'node_data', 'outputs', 'status'].sort(),
      );
      expect(f.data.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(f.data.status).toBe('succeeded');
      expect(f.data.error).toBe('');
      expect(typeof f.data.latency).toBe('number');
      expect(f.data.latency).toBeGreaterThanOrEqual(0);
      expect(f.data.latency).toBeLessThan(5); // seconds, not milliseconds
      // node_data is the node as in the draft.
      const node = graph.nodes.find((n) => n.id === f.data.node_data.id)!;
      expect(f.data.node_data).toMatchObject({
        id: node.id,
        node_type: node.node_type,
        title: node.title,
        description: '',
        position: node.position,
      });
    }
    expect(frames[0].data.inputs).toEqual({ query: 'go' });
    expect(frames[0].data.outputs).toEqual({ query: 'go', n: 0 });
    expect(frames[2].data.inputs).toEqual({ q: 'go', n: 0 });
    expect(frames[2].data.outputs).toEqual({ output: 'A: go 0' });
    expect(frames[1].data.node_data.branches[0].id).toBe('yes');
    const end = frames[frames.length - 1].data;
    expect(end.node_data.node_type).toBe('end');
    expect(end.outputs).toEqual({ answer: 'A: go 0', fixed: 'yes' });

    // Stored: the run and every final event, skipped B included, frame ids as result ids.
    const list = await get<{ list: Json[] }>(a, `/workflows/${id}/runs`);
    expect(list.data.list).toHaveLength(1);
    const run = list.data.list[0];
    expect(run).toMatchObject({
      workflow_id: id,
      source: 'debug',
      status: 'succeeded',
      inputs: { query: 'go' },
      outputs: { answer: 'A: go 0', fixed: 'yes' },
      error: '',
    });
    expect(typeof run.latency).toBe('number');
    expect(run.finished_at).toBeGreaterThanOrEqual(run.started_at);
    const detail = await get(a, `/workflows/${id}/runs/${run.id}`);
    const results = detail.data.results as Json[];
    expect(results.map((r) => [r.node_id, r.status]).sort()).toEqual(
      [
        ['A', 'succeeded'],
        ['B', 'skipped'],
        ['E', 'succeeded'],
        ['IF', 'succeeded'],
        ['S', 'succeeded'],
      ].sort(),
    );
    expect(results.find((r) => r.node_id === 'IF')).toMatchObject({ handle: 'yes', error: '' });
    expect(results[results.length - 1].node_id).toBe('E');
    for (const f of frames)
      expect(results.find((r) => r.node_id === f.data.node_data.id)!.id).toBe(f.data.id);

    // The pass is recorded, so the draft publishes.
    expect((await get(a, `/workflows/${id}`)).data.is_debug_passed).toBe(true);
    expect(await post(a, `/workflows/${id}/publish`)).toMatchObject({ code: 'success' });
  });

  it('answers an invalid draft with a JSON envelope before any stream and stores no run', async () => {
    const graph = branchingGraph();
    graph.edges = graph.edges.filter((e) => e.target !== 'E');
    const id = await create(a, graph);
    const res = await debug(a, id, { query: 'go' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    const body = JSON.parse(res.raw) as Envelope;
    expect(body.code).toBe('validate_error');
    expect(body.message).toMatch(/\S/);
    expect((await get<{ list: Json[] }>(a, `/workflows/${id}/runs`)).data.list).toEqual([]);
    expect((await get(a, `/workflows/${id}`)).data.is_debug_passed).toBe(false);
  });

  it('sends the failing node as a failed frame, with language_model_config on an llm node', async () => {
    const llm = {
      id: 'L',
      node_type: 'llm',
      title: 'Model',
      description: '',
      position: { x: 1, y: 2 },
      prompt: 'Say {{ query }}',
      model_config: { provider: 'openai', model: 'gpt-4o-mini', parameters: {} },
      // An int input fed "hi": the node fails on its inputs, before any model call.
      inputs: [ref('query', 'S', 'query', 'int')],
      outputs: [generated('output')],
    } as unknown as WorkflowNode;
    const graph = graphOf(
      [startNode('S', [{ name: 'query' }]), llm, endNode('E', [ref('r', 'L', 'output')])],
      [
        ['S', 'L'],
        ['L', 'E'],
      ],
    );
    const id = await create(a, graph);
    const res = await debug(a, id, { query: 'hi' });
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    // The model node fails, the end never runs (no frame for it).
    const frames = res.frames.map((f) => f.data);
    expect(frames.map((f) => [f.node_data.id, f.status])).toEqual([
      ['S', 'succeeded'],
      ['L', 'failed'],
    ]);
    expect(frames[1].error).toMatch(/input "query" \(int\).*not a number/);
    expect(typeof frames[1].latency).toBe('number');
    expect(frames[1].node_data.language_model_config).toEqual(
      (llm as unknown as Json).model_config,
    );
    const runs = (await get<{ list: Json[] }>(a, `/workflows/${id}/runs`)).data.list;
    expect(runs[0]).toMatchObject({ status: 'failed', outputs: {} });
    expect(runs[0].error).toMatch(/\S/);
    expect((await get(a, `/workflows/${id}`)).data.is_debug_passed).toBe(false);
  });

  it('keeps running a debug run after the client leaves, and stores it', async () => {
    const graph = graphOf(
      [startNode('S'), httpNode('H', `${base}/slow`), endNode('E', [ref('text', 'H', 'text')])],
      [
        ['S', 'H'],
        ['H', 'E'],
      ],
    );
    const id = await create(a, graph);
    await new Promise<void>((resolve, reject) => {
      const req = request(`${t.url}/workflows/${id}/debug`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...a.auth },
      });
      req.on('error', () => resolve());
      req.on('response', (res) => {
        res.once('data', () => {
          // The start frame arrived; H is still waiting for the slow server.
          req.destroy();
          resolve();
        });
        res.on('error', () => undefined);
      });
      req.end('{}');
      setTimeout(() => reject(new Error('no first frame')), 5000).unref();
    });
    const runs = (await get<{ list: Json[] }>(a, `/workflows/${id}/runs`)).data.list;
    const run = await waitRun(a, id, runs[0].id);
    expect(run).toMatchObject({ status: 'succeeded', outputs: { text: 'hit /slow' } });
    expect((run.results as Json[]).map((r) => r.node_id)).toEqual(['S', 'H', 'E']);
    expect((await get(a, `/workflows/${id}`)).data.is_debug_passed).toBe(true);
  });

  it('runs the published graph through the queue, with socket events and the history', async () => {
    const id = await create(a, branchingGraph());
    // Not published yet: nothing to run.
    expect((await post(a, `/workflows/${id}/runs`, { query: 'go' })).code).toBe('not_found');
    expect((await debug(a, id, { query: 'go' })).frames).toHaveLength(4);
    expect((await post(a, `/workflows/${id}/publish`)).code).toBe('success');

    const socket = await sockets.connect(t.url, a.access_token);
    const started = await post(a, `/workflows/${id}/runs`, { query: 'no', n: '7' });
    expect(started).toMatchObject({
      code: 'success',
      message: 'Workflow run started',
      data: { workflow_id: id, source: 'published', inputs: { query: 'no', n: '7' } },
    });
    const runId = started.data.id as string;
    // Events of a run go only to its room (CONTRACT): subscribing gets its end, live or, when the
    // quick run is already over, as the subscription's snapshot.
    const finished = nextEvent(socket, 'workflow_finished', (p) => p.run_id === runId, 15_000);
    expect((await emitWithAck<Json>(socket, 'subscribe_workflow_run', { run_id: runId })).ok).toBe(
      true,
    );
    const run = await waitRun(a, id, runId);
    expect(run).toMatchObject({
      status: 'succeeded',
      outputs: { answer: null, fixed: 'yes' }, // refs to a skipped node read null
      error: '',
    });
    expect((run.results as Json[]).map((r) => [r.node_id, r.status]).sort()).toEqual(
      [
        ['A', 'skipped'],
        ['B', 'succeeded'],
        ['E', 'succeeded'],
        ['IF', 'succeeded'],
        ['S', 'succeeded'],
      ].sort(),
    );
    expect(await finished).toMatchObject({ run_id: runId, workflow_id: id, status: 'succeeded' });

    // Node events of a live run follow a subscription.
    const slowId = await create(
      a,
      graphOf(
        [startNode('S'), httpNode('H', `${base}/slow`), endNode('E', [ref('text', 'H', 'text')])],
        [
          ['S', 'H'],
          ['H', 'E'],
        ],
      ),
    );
    // A slow node: keep-alives are SSE comments, never events the console would keep.
    const slowDebug = await debug(a, slowId, {});
    expect(slowDebug.frames.map((f) => f.event)).toEqual(['workflow', 'workflow', 'workflow']);
    expect(slowDebug.comments.length).toBeGreaterThanOrEqual(2);
    expect(slowDebug.comments.every((c) => c === ': ping')).toBe(true);
    expect((await post(a, `/workflows/${slowId}/publish`)).code).toBe('success');
    const slow = (await post(a, `/workflows/${slowId}/runs`, {})).data.id as string;
    const nodeEvent = nextEvent(socket, 'workflow_node', (p) => p.node_id === 'E', 15_000);
    expect((await emitWithAck<Json>(socket, 'subscribe_workflow_run', { run_id: slow })).ok).toBe(
      true,
    );
    expect(await nodeEvent).toMatchObject({
      run_id: slow,
      workflow_id: slowId,
      node_id: 'E',
      status: 'succeeded',
      outputs: { text: 'hit /slow' },
    });
    const other = await sockets.connect(t.url, b.access_token);
    expect((await emitWithAck<Json>(other, 'subscribe_workflow_run', { run_id: runId })).ok).toBe(
      false,
    );

    // History: newest first, paged, filtered by status.
    await post(a, `/workflows/${id}/runs`, { query: 'go' });
    const page = await get<{ list: Json[]; paginator: Json }>(a, `/workflows/${id}/runs`, {
      page_size: 2,
    });
    expect(page.data.paginator).toMatchObject({ current_page: 1, page_size: 2, total_record: 3 });
    expect(page.data.list).toHaveLength(2);
    expect(page.data.list[1].id).toBe(runId);
    expect(page.data.list[0].created_at).toBeGreaterThanOrEqual(page.data.list[1].created_at);
    expect(page.data.list[0]).not.toHaveProperty('graph');
    const debugRuns = await get<{ list: Json[] }>(a, `/workflows/${id}/runs`, {
      status: 'succeeded',
      page_size: 20,
    });
    expect(debugRuns.data.list.length).toBeGreaterThanOrEqual(2);
    expect((await get(a, `/workflows/${id}/runs`, { status: 'nope' })).code).toBe('validate_error');
  });

  it("answers not_found for another account's workflows and runs", async () => {
    const id = await create(a, branchingGraph());
    const res = await debug(a, id, { query: 'go' });
    expect(res.frames).toHaveLength(4);
    const runId = (await get<{ list: Json[] }>(a, `/workflows/${id}/runs`)).data.list[0].id;

    const asB = await debug(b, id, { query: 'go' });
    expect(asB.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(asB.raw).code).toBe('not_found');
    expect((await get(b, `/workflows/${id}/runs`)).code).toBe('not_found');
    expect((await get(b, `/workflows/${id}/runs/${runId}`)).code).toBe('not_found');
    expect((await post(b, `/workflows/${id}/runs`, { query: 'go' })).code).toBe('not_found');
    // A run under another of one's own workflows, or a malformed id, is not found either.
    const otherOwn = await create(a, branchingGraph());
    expect((await get(a, `/workflows/${otherOwn}/runs/${runId}`)).code).toBe('not_found');
    expect((await get(a, `/workflows/${id}/runs/not-a-uuid`)).code).toBe('not_found');
    expect((await get(b, `/workflows/${id}/runs`)).code).toBe('not_found');
    expect((await get(a, `/workflows/${id}/runs/${runId}`)).code).toBe('success');
  });

  it('marks in-request runs that outlived any run as failed, and deletes runs with the workflow', async () => {
    const id = await create(a, branchingGraph());
    expect((await debug(a, id, { query: 'go' })).frames).toHaveLength(4);
    const db = t.app.get(DataSource);
    const [stale] = await db.query<Array<{ id: string }>>(
      `INSERT INTO workflow_runs (account_id, workflow_id, source, status, started_at, graph)
       VALUES ($1, $2, 'debug', 'running', now() - interval '1 hour', '{}') RETURNING id`,
      [a.id, id],
    );
    const [fresh] = await db.query<Array<{ id: string }>>(
      `INSERT INTO workflow_runs (account_id, workflow_id, source, status, started_at, graph)
       VALUES ($1, $2, 'debug', 'running', now(), '{}') RETURNING id`,
      [a.id, id],
    );
    expect(await t.app.get(WorkflowRunService).failAbandoned()).toBeGreaterThanOrEqual(1);
    expect((await get(a, `/workflows/${id}/runs/${stale.id}`)).data).toMatchObject({
      status: 'failed',
      error: 'The run was interrupted',
    });
    expect((await get(a, `/workflows/${id}/runs/${fresh.id}`)).data.status).toBe('running');

    expect((await post(a, `/workflows/${id}/delete`)).code).toBe('success');
    const left = await db.query<Array<{ n: string }>>(
      `SELECT (SELECT count(*) FROM workflow_runs WHERE workflow_id = $1) +
              (SELECT count(*) FROM workflow_results r WHERE r.account_id = $2 AND NOT EXISTS
                 (SELECT 1 FROM workflow_runs x WHERE x.id = r.run_id)) AS n`,
      [id, a.id],
    );
    expect(Number(left[0].n)).toBe(0);
  });

  it('stores nothing while the process shuts down, so the job can resume the run later', async () => {
    const id = await create(a, branchingGraph());
    const db = t.app.get(DataSource);
    const svc = t.app.get(WorkflowRunService);
    const [row] = await db.query<Array<{ id: string }>>(
      `INSERT INTO workflow_runs (account_id, workflow_id, source, status, inputs, started_at, graph)
       VALUES ($1, $2, 'published', 'running', $3, now(), $4) RETURNING id`,
      [a.id, id, JSON.stringify({ query: 'go' }), JSON.stringify(branchingGraph())],
    );
    expect(await svc.processRun(row.id, { discard: () => true })).toEqual({ status: 'succeeded' });
    const kept = await get(a, `/workflows/${id}/runs/${row.id}`);
    expect(kept.data).toMatchObject({ status: 'running', results: [] });

    expect(await svc.processRun(row.id, {})).toEqual({ status: 'succeeded' });
    const done = await get(a, `/workflows/${id}/runs/${row.id}`);
    expect(done.data).toMatchObject({ status: 'succeeded', outputs: { answer: 'A: go 0' } });
    expect(done.data.results).toHaveLength(5);
    // A finished run is not run again by a duplicate job.
    expect(await svc.processRun(row.id, {})).toEqual({ status: 'succeeded' });
    expect((await get(a, `/workflows/${id}/runs/${row.id}`)).data.results).toHaveLength(5);
  });
});
