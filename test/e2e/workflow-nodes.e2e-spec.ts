import { NotFoundError } from '@app/common';
import { FakeOpenAI } from '@test/fakes/fake-openai';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { catchError, usageRows } from '@test/support/model-test-utils';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { searchTerms } from 'src/modules/dataset/indexing/keywords';
import { ToolRuntime } from 'src/modules/tool/runtime/tool-runtime.service';
import {
  endNode,
  generated,
  graphOf,
  literal,
  ref,
  startNode,
  templateNode,
} from 'src/modules/workflow/engine/testing/graph-builder';
import { WorkflowEngine } from 'src/modules/workflow/engine/workflow-engine';
import type {
  CodeNode,
  DatasetRetrievalNode,
  LlmNode,
  QuestionClassifierNode,
  ToolNode,
  WorkflowGraph,
  WorkflowNode,
} from 'src/modules/workflow/graph/graph.types';
import { WorkflowService } from 'src/modules/workflow/workflow.service';

/**
 * The executors backed by other modules, through the app's WorkflowEngine: the LLM and classifier
 * nodes against the fake OpenAI server (usage rows, aborts), the tool node with a builtin tool,
 * the retrieval node on seeded rows, and published workflows as tools of the tool runtime.
 */

const MODEL = { provider: 'openai', model: 'gpt-4o-mini', parameters: {} };
const base = (id: string) => ({ id, title: id, description: '', position: { x: 0, y: 0 } });

/** start(q) -> node -> end(out = node.<outVar>) */
const around = (node: WorkflowNode, outVar: string): WorkflowGraph =>
  graphOf(
    [startNode('S', [{ name: 'q' }]), node, endNode('E', [ref('out', node.id, outVar)])],
    [
      ['S', node.id],
      [node.id, 'E'],
    ],
  );

describe('workflow nodes (e2e)', () => {
  let openai: FakeOpenAI;
  let t: TestApp;
  let engine: WorkflowEngine;
  let alice: TestAccount;
  let bob: TestAccount;

  beforeAll(async () => {
    openai = await FakeOpenAI.create();
    t = await createTestApp({
      env: {
        OPENAI_API_KEY: 'sk-test',
        OPENAI_API_BASE: openai.baseURL,
        MODEL_MAX_RETRIES: '0',
        MODEL_TIMEOUT_MS: '5000',
        OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
      },
    });
    engine = t.app.get(WorkflowEngine);
    [alice, bob] = await Promise.all([createAccount(t), createAccount(t)]);
  });
  afterAll(async () => {
    await t?.close();
    await openai?.close();
  });
  afterEach(() => openai.reset());

  const llm = (prompt: string): LlmNode => ({
    ...base('L'),
    node_type: 'llm',
    prompt,
    model_config: MODEL,
    language_model_config: MODEL,
    inputs: [ref('q', 'S', 'q'), literal('lang', 'French')],
    outputs: [generated('output')],
  });

  describe('llm', () => {
    it('sends the rendered prompt, returns the answer and records usage as workflow', async () => {
      const acc = await createAccount(t);
      openai.enqueue({
        type: 'text',
        text: 'Bonjour',
        usage: { prompt_tokens: 12, completion_tokens: 3 },
      });
      const events: Array<{ node_id: string; status: string; tokens: number }> = [];
      const res = await engine.execute(
        around(llm('Say {{q}} in {{ lang }}'), 'output'),
        { q: 'hello' },
        { accountId: acc.id, onEvent: (e) => void events.push(e) },
      );
      expect(res).toMatchObject({ status: 'succeeded', outputs: { out: 'Bonjour' } });
      // The node's result carries the provider's token count (stored with the run's results).
      const finished = events.filter((e) => e.status === 'succeeded');
      expect(finished.find((e) => e.node_id === 'L')?.tokens).toBe(15);
      expect(finished.filter((e) => e.node_id !== 'L').every((e) => e.tokens === 0)).toBe(true);
      const body = openai.requests[0].body as { model: string; messages: unknown[] };
      expect(body.model).toBe('gpt-4o-mini');
      expect(body.messages).toEqual([{ role: 'user', content: 'Say hello in French' }]);
      const rows = await usageRows(t, acc.id, (r) => r.length > 0);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        source: 'workflow',
        model: 'gpt-4o-mini',
        prompt_tokens: 12,
        completion_tokens: 3,
      });
    });

    it('fails the node on a provider error', async () => {
      openai.enqueue({ type: 'error', status: 400, message: 'bad request from fake' });
      const res = await engine.execute(
        around(llm('Hi {{q}}'), 'output'),
        { q: 'x' },
        {
          accountId: alice.id,
        },
      );
      expect(res.status).toBe('failed');
      expect(res.error).toContain('the model call failed');
    });

    it('aborts the model call when the run is stopped', async () => {
      openai.enqueue({ type: 'delay_headers', ms: 3000 });
      const stop = new AbortController();
      const run = engine.execute(
        around(llm('Hi {{q}}'), 'output'),
        { q: 'x' },
        {
          accountId: alice.id,
          signal: stop.signal,
        },
      );
      await waitFor(() => openai.requests.length === 1);
      const started = Date.now();
      stop.abort();
      expect((await run).status).toBe('stopped');
      expect(Date.now() - started).toBeLessThan(1000);
      await waitFor(() => openai.pending === 0);
    });
  });

  it('question_classifier takes the class the model names', async () => {
    const node: QuestionClassifierNode = {
      ...base('Q'),
      node_type: 'question_classifier',
      model_config: MODEL,
      language_model_config: MODEL,
      instruction: '',
      inputs: [ref('query', 'S', 'q')],
      classes: [
        { id: 'weather', name: 'Weather' },
        { id: 'other', name: 'Anything else' },
      ],
      outputs: [generated('class_name')],
    };
    const graph = graphOf(
      [
        startNode('S', [{ name: 'q' }]),
        node,
        templateNode('W', 'weather branch', []),
        templateNode('O', 'other branch', []),
        endNode('E', [
          ref('w', 'W', 'output'),
          ref('o', 'O', 'output'),
          ref('c', 'Q', 'class_name'),
        ]),
      ],
      [
        ['S', 'Q'],
        ['Q', 'W', 'weather'],
        ['Q', 'O', 'other'],
        ['W', 'E'],
        ['O', 'E'],
      ],
    );
    openai.enqueue({ type: 'text', text: '```json\n{"class_id": "other"}\n```' });
    const res = await engine.execute(graph, { q: 'tell me a joke' }, { accountId: alice.id });
    expect(res).toMatchObject({
      status: 'succeeded',
      outputs: { w: null, o: 'other branch', c: 'Anything else' },
    });
    const messages = (openai.requests[0].body as { messages: Array<{ content: string }> }).messages;
    expect(messages[1].content).toBe('tell me a joke');
  });

  describe('tool', () => {
    const node = (timezone: string): ToolNode => ({
      ...base('T'),
      node_type: 'tool',
      tool_type: 'builtin_tool',
      provider_id: 'time',
      tool_id: 'current_time',
      params: { timezone: 'UTC' },
      inputs: [literal('timezone', timezone)],
      outputs: [generated('text')],
      meta: {},
    });

    it('calls the builtin tool with the node inputs', async () => {
      const res = await engine.execute(
        around(node('Asia/Tokyo'), 'text'),
        { q: 'x' },
        {
          accountId: alice.id,
        },
      );
      expect(res.status).toBe('succeeded');
      expect(res.outputs.out).toMatch(
        /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d Asia\/Tokyo \(UTC\+09:00\)$/,
      );
    });

    it('a failing tool fails the node', async () => {
      const res = await engine.execute(
        around(node('Mars/Olympus'), 'text'),
        { q: 'x' },
        {
          accountId: alice.id,
        },
      );
      expect(res.status).toBe('failed');
      expect(res.error).toContain('is not an IANA time zone');
    });

    it('an unknown tool fails the node', async () => {
      const res = await engine.execute(
        around({ ...node('UTC'), tool_id: 'no_such_tool' }, 'text'),
        { q: 'x' },
        { accountId: alice.id },
      );
      expect(res.status).toBe('failed');
      expect(res.error).toContain('Node "T" (T) failed');
    });
  });

  it('dataset_retrieval searches the account datasets and logs the query as workflow', async () => {
    const db = t.app.get(DataSource);
    const acc = await createAccount(t);
    const [ds] = await db.query<Array<{ id: string }>>(
      `INSERT INTO datasets (account_id, name, indexing_mode, embedding_provider, embedding_model, retrieval_config)
       VALUES ($1, $2, 'economy', '', '', '{"retrieval_strategy":"full_text","k":4,"score":0}') RETURNING id`,
      [acc.id, `ds-${randomUUID()}`],
    );
    const [file] = await db.query<Array<{ id: string }>>(
      `INSERT INTO upload_files (account_id, name, key, size, extension, mime_type, hash, kind)
       VALUES ($1, 'notes.md', 'k', 10, 'md', 'text/markdown', repeat('a', 64), 'document') RETURNING id`,
      [acc.id],
    );
    const [doc] = await db.query<Array<{ id: string }>>(
      `INSERT INTO documents (account_id, dataset_id, upload_file_id, batch, name, position, process_rule, status, enabled)
       VALUES ($1, $2, $3, 'b1', 'notes.md', 1, '{}', 'completed', true) RETURNING id`,
      [acc.id, ds.id, file.id],
    );
    for (const [i, content] of ['cats purr softly', 'dogs bark at cats', 'green tea'].entries())
      await db.query(
        `INSERT INTO segments (account_id, dataset_id, document_id, position, content, hash, keywords,
                               character_count, token_count, enabled, status, search_vector)
         VALUES ($1, $2, $3, $4, $5, md5($5), '[]', length($5), 3, true, 'completed', to_tsvector('simple', $6))`,
        [acc.id, ds.id, doc.id, i + 1, content, searchTerms(content)],
      );
    const node: DatasetRetrievalNode = {
      ...base('D'),
      node_type: 'dataset_retrieval',
      dataset_ids: [ds.id],
      retrieval_config: { retrieval_strategy: 'full_text', k: 4, score: 0 },
      inputs: [ref('query', 'S', 'q')],
      outputs: [generated('combine_documents')],
      meta: { datasets: [] },
    };
    const res = await engine.execute(
      around(node, 'combine_documents'),
      { q: 'cats' },
      {
        accountId: acc.id,
      },
    );
    expect(res.status).toBe('succeeded');
    expect(String(res.outputs.out).split('\n\n').sort()).toEqual([
      'cats purr softly',
      'dogs bark at cats',
    ]);
    const logged = await db.query<Array<{ source: string; query: string }>>(
      `SELECT source, query FROM dataset_queries WHERE account_id = $1`,
      [acc.id],
    );
    expect(logged).toEqual([{ source: 'workflow', query: 'cats' }]);

    // Another account's run sees nothing of it.
    const other = await engine.execute(
      around(node, 'combine_documents'),
      { q: 'cats' },
      {
        accountId: bob.id,
      },
    );
    expect(other.outputs).toEqual({ out: '' });
  });

  describe('code (QuickJS sandbox)', () => {
    const code = (source: string, timeout_ms?: number): CodeNode => ({
      ...base('C'),
      node_type: 'code',
      code: source,
      inputs: [ref('q', 'S', 'q'), literal('n', 21, 'int')],
      outputs: [generated('out'), generated('twice', 'int')],
      ...(timeout_ms ? { timeout_ms } : {}),
    });

    it('runs main(params) in the sandbox and keeps the declared outputs', async () => {
      const res = await engine.execute(
        around(
          code(
            'async function main(p) { console.log("ignored"); return { out: p.q.toUpperCase(), twice: String(p.n * 2), junk: 1 } }',
          ),
          'out',
        ),
        { q: 'abc' },
        { accountId: alice.id },
      );
      expect(res).toMatchObject({ status: 'succeeded', outputs: { out: 'ABC' } });
    });

    it('runs two 300 ms code branches in parallel (about 300 ms, not 600) and joins them', async () => {
      const sleeper = (id: string): CodeNode => ({
        ...base(id),
        node_type: 'code',
        code: 'async function main(p) { await new Promise((r) => setTimeout(r, 300)); return { out: p.q + "-" + p.tag } }',
        inputs: [ref('q', 'S', 'q'), literal('tag', id, 'string')],
        outputs: [generated('out')],
      });
      const graph = graphOf(
        [
          startNode('S', [{ name: 'q' }]),
          sleeper('A'),
          sleeper('B'),
          endNode('E', [ref('a', 'A', 'out'), ref('b', 'B', 'out')]),
        ],
        [
          ['S', 'A'],
          ['S', 'B'],
          ['A', 'E'],
          ['B', 'E'],
        ],
      );
      const finished = new Map<string, { started_at: number; finished_at: number }>();
      const res = await engine.execute(
        graph,
        { q: 'x' },
        {
          accountId: alice.id,
          onEvent: (e) => {
            if (e.status === 'succeeded') finished.set(e.node_id, e);
          },
        },
      );
      expect(res).toMatchObject({ status: 'succeeded', outputs: { a: 'x-A', b: 'x-B' } });
      // Parallel, shown by the engine's own clock rather than by wall time: each branch ran
      // while the other was running, and each took its 300 ms.
      const a = finished.get('A')!;
      const b = finished.get('B')!;
      expect(a.started_at < b.finished_at && b.started_at < a.finished_at).toBe(true);
      expect(a.finished_at - a.started_at).toBeGreaterThanOrEqual(290);
      expect(b.finished_at - b.started_at).toBeGreaterThanOrEqual(290);
      // The end node joined both.
      expect(finished.get('E')!.started_at).toBeGreaterThanOrEqual(
        Math.max(a.finished_at, b.finished_at),
      );
    });

    it('fails the node with the sandbox error, and on the node timeout', async () => {
      const thrown = await engine.execute(
        around(code('function main() { throw new Error("boom") }'), 'out'),
        { q: 'x' },
        { accountId: alice.id },
      );
      expect(thrown.status).toBe('failed');
      expect(thrown.error).toContain('boom');

      const started = Date.now();
      const looping = await engine.execute(
        around(code('function main() { for (;;) {} }', 300), 'out'),
        { q: 'x' },
        { accountId: alice.id },
      );
      expect(looping.status).toBe('failed');
      expect(looping.error).toMatch(/time/i);
      expect(Date.now() - started).toBeLessThan(3000);
    });
  });

  describe('workflow as tool', () => {
    let published: string;
    let draft: string;

    /** start(q, times?) -> template -> end(answer, times) */
    const toolGraph = (): WorkflowGraph =>
      graphOf(
        [
          {
            ...startNode('S', [{ name: 'q' }, { name: 'times', type: 'int', required: false }]),
            id: '10000000-0000-4000-8000-000000000001',
          },
          {
            ...templateNode('Shout', '{{q | upper}}!', [
              ref('q', '10000000-0000-4000-8000-000000000001', 'q'),
            ]),
            id: '10000000-0000-4000-8000-000000000002',
          },
          {
            ...endNode('E', [
              ref('answer', '10000000-0000-4000-8000-000000000002', 'output'),
              ref('times', '10000000-0000-4000-8000-000000000001', 'times', 'int'),
            ]),
            id: '10000000-0000-4000-8000-000000000003',
          },
        ],
        [
          ['10000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000002'],
          ['10000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000003'],
        ],
      );

    const makeWorkflow = async (acc: TestAccount, name: string, publish: boolean) => {
      const svc = t.app.get(WorkflowService);
      const { id } = await svc.create(acc.id, {
        name,
        tool_call_name: name,
        icon: '',
        description: `The ${name} workflow`,
      });
      await svc.saveDraftGraph(acc.id, id, toolGraph(), 'http://localhost');
      if (publish) {
        const { graph } = await svc.draftForRun(acc.id, id);
        expect(await svc.markDebugPassed(acc.id, id, graph)).toBe(true);
        await svc.publish(acc.id, id);
      }
      return id;
    };

    beforeAll(async () => {
      published = await makeWorkflow(alice, 'shout', true);
      draft = await makeWorkflow(alice, 'shout_draft', false);
    });

    it('invokes the published workflow through the tool runtime', async () => {
      const res = await t.app
        .get(ToolRuntime)
        .invoke(alice.id, { type: 'workflow', provider: published, tool: published }, { q: 'hey' });
      expect(res).toMatchObject({ ok: true, data: { answer: 'HEY!', times: 0 } });
      expect(JSON.parse(res.output)).toEqual({ answer: 'HEY!', times: 0 });
    });

    it('resolves with the tool_call_name, the start inputs as schema, and works as a LangChain tool', async () => {
      const runtime = t.app.get(ToolRuntime);
      const tool = await runtime.resolve(alice.id, {
        type: 'workflow',
        provider: published,
        tool: 'shout',
      });
      expect(tool).toMatchObject({
        kind: 'workflow',
        provider: published,
        name: 'shout',
        description: 'The shout workflow',
        inputSchema: {
          type: 'object',
          properties: { q: { type: 'string' }, times: { type: 'integer' } },
          required: ['q'],
        },
      });
      const lc = runtime.toLangChain(alice.id, tool);
      expect(lc.name).toBe('shout');
      expect(await lc.invoke({ q: 'ok', times: 2 })).toBe('{"answer":"OK!","times":2}');
      // A missing required argument is the model's to fix: an error result, not an exception.
      const bad = await runtime.call(alice.id, tool, { times: 1 });
      expect(bad).toMatchObject({ ok: false });
      expect(bad.error).toMatch(/^invalid arguments/);
    });

    it("another account's workflow and unpublished ones are not found", async () => {
      const runtime = t.app.get(ToolRuntime);
      for (const [acc, id] of [
        [bob, published],
        [alice, draft],
        [alice, randomUUID()],
        [alice, 'not-a-uuid'],
      ] as const) {
        const err = await catchError(() =>
          runtime.invoke(acc.id, { type: 'workflow', provider: id, tool: id }, { q: 'x' }),
        );
        expect(err).toBeInstanceOf(NotFoundError);
      }
    });
  });
});

async function waitFor(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}
