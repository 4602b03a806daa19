import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { consoleRequests, type Envelope } from '@test/support/console-requests';
import { WorkflowEngine } from 'src/modules/workflow/engine';
import type { WorkflowGraph } from 'src/modules/workflow/graph/graph.types';
import { WorkflowService } from 'src/modules/workflow/workflow.service';
import { DataSource } from 'typeorm';

/**
 * Workflows end to end: CRUD and the shapes the console reads (CONSOLE-SHAPES §3), the draft
 * graph stored as the console saves it (half-edited, unchanged on the way back), publish refused
 * without a debug pass and with an invalid graph, publish and cancel-publish, tool_call_name
 * rules, and another account's workflows answering not_found everywhere.
 */

const ICON = 'http://localhost:5000/icons/flow.png';

interface Workflow {
  id: string;
  name: string;
  tool_call_name: string;
  icon: string;
  description: string;
  status: string;
  is_debug_passed: boolean;
  node_count: number;
  published_at: number;
  updated_at: number;
  created_at: number;
}
interface Paged<T> {
  list: T[];
  paginator: { current_page: number; page_size: number; total_page: number; total_record: number };
}
type Json = Record<string, unknown>;
interface Graph {
  nodes: Json[];
  edges: Json[];
}

const MODEL = { provider: 'openai', model: 'gpt-4o-mini', parameters: { temperature: 0.5 } };
const gen = (name: string, type = 'string', content: unknown = '') => ({
  name,
  description: '',
  required: true,
  type,
  value: { type: 'generated', content },
  meta: {},
});
const ref = (name: string, node: string, variable: string) => ({
  name,
  description: '',
  required: true,
  type: 'string',
  value: { type: 'ref', content: { ref_node_id: node, ref_var_name: variable } },
  meta: {},
});

const ids = {
  start: '11111111-1111-4111-8111-111111111111',
  llm: '22222222-2222-4222-8222-222222222222',
  tool: '33333333-3333-4333-8333-333333333333',
  retrieval: '44444444-4444-4444-8444-444444444444',
  template: '55555555-5555-4555-8555-555555555555',
  end: '66666666-6666-4666-8666-666666666666',
};

/** A complete graph: start -> llm -> tool -> retrieval -> template -> end. */
function validGraph(datasetId: string): Graph {
  const node = (id: string, node_type: string, title: string, fields: Json) => ({
    id,
    node_type,
    title,
    description: '',
    position: { x: 100, y: 200 },
    ...fields,
  });
  const nodes = [
    node(ids.start, 'start', 'Start', {
      inputs: [{ name: 'query', type: 'string', description: 'The question', required: true }],
    }),
    node(ids.llm, 'llm', 'LLM', {
      prompt: 'Answer: {{query}}',
      model_config: MODEL,
      inputs: [ref('query', ids.start, 'query')],
      outputs: [gen('output')],
    }),
    node(ids.tool, 'tool', 'Time', {
      tool_type: 'builtin_tool',
      provider_id: 'time',
      tool_id: 'current_time',
      params: {},
      inputs: [],
      outputs: [gen('text')],
      meta: {},
    }),
    node(ids.retrieval, 'dataset_retrieval', 'Knowledge', {
      dataset_ids: [datasetId],
      retrieval_config: { retrieval_strategy: 'semantic', k: 4, score: 0 },
      inputs: [ref('query', ids.start, 'query')],
      outputs: [gen('combine_documents')],
      meta: {},
    }),
    node(ids.template, 'template_transform', 'Format', {
      template: '{{ answer }} at {{ now }}',
      inputs: [ref('answer', ids.llm, 'output'), ref('now', ids.tool, 'text')],
      outputs: [gen('output')],
    }),
    node(ids.end, 'end', 'End', { outputs: [ref('result', ids.template, 'output')] }),
  ];
  const chain = [ids.start, ids.llm, ids.tool, ids.retrieval, ids.template, ids.end];
  const typeOf = new Map(nodes.map((n) => [n.id, n.node_type]));
  const edges = chain.slice(1).map((target, i) => ({
    id: `e${i}`,
    source: chain[i],
    source_type: typeOf.get(chain[i]),
    target,
    target_type: typeOf.get(target),
  }));
  return { nodes, edges };
}

describe('Workflows (e2e)', () => {
  let t: TestApp;
  let a: TestAccount;
  let b: TestAccount;
  let datasetId: string;

  beforeAll(async () => {
    t = await createTestApp();
    [a, b] = await Promise.all([createAccount(t), createAccount(t)]);
    const ds = await post<{ id: string }>(a, '/datasets', {
      name: 'Flow docs',
      description: 'Docs',
      indexing_mode: 'economy',
    });
    expect(ds.code).toBe('success');
    datasetId = ds.data.id;
  });
  afterAll(async () => {
    await t?.close();
  });

  const { get, post } = consoleRequests(() => t);
  let seq = 0;
  const create = async (acc: TestAccount = a, fields: Json = {}): Promise<string> => {
    seq += 1;
    const res = await post<{ id: string }>(acc, '/workflows', {
      name: `Flow ${seq}`,
      tool_call_name: `flow_${seq}`,
      icon: ICON,
      description: 'Answers questions',
      fileList: [{ uid: '1', name: 'flow.png', url: ICON }], // the console's whole form model
      ...fields,
    });
    expect(res).toMatchObject({ code: 'success', message: 'Workflow created' });
    return res.data.id;
  };
  const passDebug = async (acc: TestAccount, id: string) => {
    const svc = t.app.get(WorkflowService);
    const { graph } = await svc.draftForRun(acc.id, id);
    expect(await svc.markDebugPassed(acc.id, id, graph)).toBe(true);
  };

  it('creates a workflow with every field the console reads', async () => {
    const before = Math.floor(Date.now() / 1000);
    const id = await create(a, { name: '  Trip planner ', tool_call_name: ' plan_trip ' });
    const res = await get<Workflow>(a, `/workflows/${id}`);
    expect(res.code).toBe('success');
    expect(Object.keys(res.data).sort()).toEqual(
      [
        'id',
        'name',
        'tool_call_name',
        'icon',
        'description',
        'status',
        'is_debug_passed',
        'node_count',
        'published_at',
        'updated_at',
        'created_at',
      ].sort(),
    );
    expect(res.data).toMatchObject({
      id,
      name: 'Trip planner',
      tool_call_name: 'plan_trip',
      icon: ICON,
      description: 'Answers questions',
      status: 'draft',
      is_debug_passed: false,
      node_count: 0,
      published_at: 0,
    });
    expect(res.data.created_at).toBeGreaterThanOrEqual(before - 1);
    expect(Number.isInteger(res.data.updated_at)).toBe(true);
    // A new workflow: empty draft, published graph {}.
    expect(await get(a, `/workflows/${id}/draft-graph`)).toMatchObject({
      code: 'success',
      data: { nodes: [], edges: [] },
    });
    const [row] = await t.app
      .get(DataSource)
      .query<Array<{ graph: unknown }>>('SELECT graph FROM workflows WHERE id = $1', [id]);
    expect(row.graph).toEqual({});
  });

  it('validates create and update bodies', async () => {
    const base = { name: 'N', tool_call_name: 'ok_name', icon: ICON, description: 'D' };
    const cases: Array<[Json, RegExp]> = [
      [{ name: '' }, /name is required/],
      [{ name: 'x'.repeat(51) }, /name must be at most 50/],
      [{ tool_call_name: '' }, /tool_call_name is required/],
      [{ tool_call_name: '1abc' }, /tool_call_name must start with a letter or _/],
      [{ tool_call_name: 'has-dash' }, /tool_call_name must start with a letter or _/],
      [{ tool_call_name: 'a'.repeat(51) }, /tool_call_name must be at most 50/],
      [{ icon: 'not a url' }, /icon must be an http\(s\) URL/],
      [{ description: '' }, /description is required/],
      [{ description: 'd'.repeat(1025) }, /description must be at most 1024/],
    ];
    for (const [patch, msg] of cases) {
      const res = await post(a, '/workflows', { ...base, ...patch });
      expect(res.code).toBe('validate_error');
      expect(res.message).toMatch(msg);
    }
    // A leading underscore is an identifier too.
    expect((await post(a, '/workflows', { ...base, tool_call_name: '_private_1' })).code).toBe(
      'success',
    );
  });

  it('keeps tool_call_name unique per account (after trimming), not across accounts', async () => {
    const id = await create(a, { tool_call_name: 'unique_name' });
    const dup = await post(a, '/workflows', {
      name: 'Other',
      tool_call_name: '  unique_name  ',
      icon: ICON,
      description: 'D',
    });
    expect(dup).toMatchObject({
      code: 'validate_error',
      message: 'A workflow with this tool_call_name already exists',
      data: { tool_call_name: ['A workflow with this tool_call_name already exists'] },
    });
    // Another account may use it.
    await create(b, { tool_call_name: 'unique_name' });
    // Renaming onto a taken name fails; keeping one's own name succeeds.
    const other = await create(a);
    const taken = await post(a, `/workflows/${other}`, {
      name: 'X',
      tool_call_name: 'unique_name',
      icon: ICON,
      description: 'D',
    });
    expect(taken.code).toBe('validate_error');
    const same = await post(a, `/workflows/${id}`, {
      name: 'Renamed',
      tool_call_name: 'unique_name',
      icon: ICON,
      description: 'New text',
      fileList: [],
    });
    expect(same).toMatchObject({ code: 'success', message: 'Workflow updated' });
    expect((await get<Workflow>(a, `/workflows/${id}`)).data).toMatchObject({
      name: 'Renamed',
      description: 'New text',
      tool_call_name: 'unique_name',
    });
  });

  it('lists with paging, search_word and the status filter ("" means none)', async () => {
    const acc = await createAccount(t);
    const made: string[] = [];
    for (const name of ['Alpha one', 'Beta', 'Alpha two']) {
      made.push(await create(acc, { name }));
    }
    // Publish "Beta" so both statuses exist.
    const ds = await post<{ id: string }>(acc, '/datasets', {
      name: 'D',
      indexing_mode: 'economy',
    });
    await post(acc, `/workflows/${made[1]}/draft-graph`, validGraph(ds.data.id));
    await passDebug(acc, made[1]);
    expect((await post(acc, `/workflows/${made[1]}/publish`)).code).toBe('success');

    const all = await get<Paged<Workflow>>(acc, '/workflows', {
      current_page: 1,
      page_size: 2,
      search_word: '',
      status: '',
    });
    expect(all.data.paginator).toEqual({
      current_page: 1,
      page_size: 2,
      total_page: 2,
      total_record: 3,
    });
    expect(all.data.list.map((w) => w.name)).toEqual(['Alpha two', 'Beta']);
    // The list counts the published graph's nodes: 0 for drafts.
    expect(all.data.list.map((w) => w.node_count)).toEqual([0, 6]);
    const page2 = await get<Paged<Workflow>>(acc, '/workflows', { current_page: 2, page_size: 2 });
    expect(page2.data.list.map((w) => w.name)).toEqual(['Alpha one']);

    const alpha = await get<Paged<Workflow>>(acc, '/workflows', { search_word: 'alpha' });
    expect(alpha.data.list.map((w) => w.name)).toEqual(['Alpha two', 'Alpha one']);
    const published = await get<Paged<Workflow>>(acc, '/workflows', { status: 'published' });
    expect(published.data.list.map((w) => w.name)).toEqual(['Beta']);
    const drafts = await get<Paged<Workflow>>(acc, '/workflows', { status: 'draft' });
    expect(drafts.data.paginator.total_record).toBe(2);
    const bad = await get(acc, '/workflows', { status: 'archived' });
    expect(bad).toMatchObject({
      code: 'validate_error',
      message: 'status must be draft or published',
    });
    const none = await get<Paged<Workflow>>(acc, '/workflows', { search_word: 'zzz' });
    expect(none.data.paginator).toMatchObject({ total_page: 0, total_record: 0 });
  });

  it('stores a half-edited draft as given and returns it unchanged', async () => {
    const id = await create();
    // What the console saves mid-edit: empty names, unset refs, blank URL and tool, a stale
    // language_model_config next to the edited model_config, unknown keys.
    const draft: Graph = {
      nodes: [
        {
          id: ids.start,
          node_type: 'start',
          title: 'Start',
          description: '',
          position: { x: 0, y: 0 },
          inputs: [{ name: '', type: 'string', description: '', required: true }],
        },
        {
          id: ids.llm,
          node_type: 'llm',
          title: 'LLM_ab12c',
          description: 'Writes',
          position: { x: 120.5, y: -30 },
          prompt: '',
          model_config: MODEL,
          language_model_config: { provider: 'deepseek', model: 'deepseek-chat', parameters: {} },
          inputs: [ref('', '', '')],
          outputs: [gen('output')],
          custom_ui_state: { collapsed: true },
        },
        {
          id: ids.tool,
          node_type: 'tool',
          title: 'Tool_x1y2z',
          description: '',
          position: { x: 300, y: 0 },
          tool_type: '',
          provider_id: '',
          tool_id: '',
          params: {},
          inputs: [],
          outputs: [gen('text')],
          meta: { type: 'api_tool', provider: { id: '' }, tool: { id: '' } },
        },
        {
          id: ids.template,
          node_type: 'http_request',
          title: 'HTTP_q9w8e',
          description: '',
          position: { x: 500, y: 0 },
          url: '',
          method: 'get',
          inputs: [{ ...ref('k', '', ''), meta: { type: 'params' } }],
          outputs: [gen('status_code', 'int', 0), gen('text')],
        },
        {
          id: ids.retrieval,
          node_type: 'dataset_retrieval',
          title: 'Knowledge',
          description: '',
          position: { x: 700, y: 0 },
          dataset_ids: [datasetId, '9b0c0d0e-0000-4000-8000-000000000000'],
          retrieval_config: { retrieval_strategy: 'semantic', k: 4, score: 0 },
          inputs: [ref('query', '', '')],
          outputs: [gen('combine_documents')],
          meta: { datasets: [] },
        },
      ],
      // Edges exactly as the console sends them, one to a node that is gone.
      edges: [
        { id: 'e1', source: ids.start, source_type: 'start', target: ids.llm, target_type: 'llm' },
        { id: 'e2', source: ids.llm, source_type: 'llm', target: ids.end, target_type: 'end' },
      ],
    };
    const saved = await post<Graph>(a, `/workflows/${id}/draft-graph`, draft);
    expect(saved).toMatchObject({ code: 'success', message: 'Draft saved' });

    const read = await get<Graph>(a, `/workflows/${id}/draft-graph`);
    expect(read.code).toBe('success');
    expect(saved.data).toEqual(read.data);
    // What reads add: the LLM config under both names (model_config preferred), and the
    // datasets of the account for the retrieval node.
    const expected = structuredClone(draft);
    expected.nodes[1].language_model_config = MODEL;
    // No tool chosen: the all-empty meta of §3.3.
    expected.nodes[2].meta = {
      type: 'api_tool',
      provider: { id: '', name: '', label: '', icon: '', description: '' },
      tool: { id: '', name: '', label: '', description: '', params: {} },
    };
    expected.nodes[4].meta = {
      datasets: [
        { id: datasetId, name: 'Flow docs', icon: expect.any(String), description: 'Docs' },
      ],
    };
    expect(read.data).toEqual(expected);
    // Saved again as read (the console posts back what it got): still the same.
    await post(a, `/workflows/${id}/draft-graph`, read.data);
    expect((await get<Graph>(a, `/workflows/${id}/draft-graph`)).data).toEqual(read.data);
    // The detail counts the draft's nodes.
    expect((await get<Workflow>(a, `/workflows/${id}`)).data.node_count).toBe(5);
  });

  it('recomputes the meta of builtin and API tool nodes (renamed, deleted, foreign)', async () => {
    const id = await create();
    const graph = validGraph(datasetId);
    const apiTool = async (acc: TestAccount, name: string) => {
      const res = await post<{ id: string }>(acc, '/api-tools', {
        name,
        icon: ICON,
        openapi_schema: JSON.stringify({
          server: 'http://127.0.0.1:9/api',
          description: 'Pet lookups',
          paths: {
            '/pets': {
              get: { description: 'A pet', operationId: 'getPet', parameters: [] },
            },
          },
        }),
        headers: [],
      });
      expect(res.code).toBe('success');
      return res.data.id;
    };
    const mine = await apiTool(a, 'Pets');
    const theirs = await apiTool(b, 'Their pets');
    const savedMeta = {
      type: 'api_tool',
      provider: { id: 'p', name: 'Old name', label: 'Old name', icon: ICON, description: 'd' },
      tool: { id: 'getPet', name: 'getPet', label: 'getPet', description: 'd', params: {} },
    };
    const apiNode = (n: number, providerId: string, toolId = 'getPet') => ({
      ...graph.nodes[2],
      id: `7777777${n}-7777-4777-8777-777777777777`,
      title: `API ${n}`,
      tool_type: 'api_tool',
      provider_id: providerId,
      tool_id: toolId,
      meta: savedMeta,
    });
    graph.nodes.push(
      apiNode(1, mine),
      apiNode(2, theirs),
      apiNode(3, mine, 'nope'),
      apiNode(4, '88888888-8888-4888-8888-888888888888'),
    );
    graph.nodes[2].meta = { stale: true };
    graph.nodes[2].params = { format: 'x' };
    await post(a, `/workflows/${id}/draft-graph`, graph);
    const { data } = await get<Graph>(a, `/workflows/${id}/draft-graph`);
    const meta = data.nodes[2].meta as { provider: { icon: string } };
    expect(meta).toEqual({
      type: 'builtin_tool',
      provider: {
        id: 'time',
        name: 'time',
        label: expect.any(String),
        icon: expect.stringMatching(/^http:\/\/[^/]+\/builtin-tools\/time\/icon$/),
        description: expect.any(String),
      },
      tool: {
        id: 'current_time',
        name: 'current_time',
        label: expect.any(String),
        description: expect.any(String),
        params: { format: 'x' },
      },
    });
    // The icon URL is one the browser can load without a token.
    const icon = await t.http().get(new URL(meta.provider.icon).pathname);
    expect(icon.status).toBe(200);
    expect(icon.headers['content-type']).toMatch(/^image\//);
    const [tool] = await t.app
      .get(DataSource)
      .query<Array<{ id: string; description: string }>>(
        'SELECT id, description FROM api_tools WHERE provider_id = $1',
        [mine],
      );
    expect(data.nodes[6].meta).toEqual({
      type: 'api_tool',
      provider: { id: mine, name: 'Pets', label: 'Pets', icon: ICON, description: 'Pet lookups' },
      tool: {
        id: tool.id,
        name: 'getPet',
        label: 'getPet',
        description: tool.description,
        params: {},
      },
    });
    // Another account's provider, an unknown tool, a deleted provider: unset.
    for (const n of data.nodes.slice(7)) {
      expect(n.meta).toMatchObject({ type: 'api_tool', provider: { id: '' }, tool: { id: '' } });
    }
  });

  it('adds the fields the console reads unguarded when a node comes without them', async () => {
    const id = await create();
    await post(a, `/workflows/${id}/draft-graph`, {
      nodes: [
        { id: ids.start, node_type: 'start' },
        { id: ids.llm, node_type: 'llm', language_model_config: MODEL },
        { id: ids.tool, node_type: 'tool' },
        { id: ids.retrieval, node_type: 'dataset_retrieval' },
        { id: ids.template, node_type: 'http_request' },
      ],
    });
    const { data } = await get<Graph>(a, `/workflows/${id}/draft-graph`);
    const [start, llm, tool, retrieval, http] = data.nodes;
    expect(start).toEqual({
      id: ids.start,
      node_type: 'start',
      title: '',
      description: '',
      position: { x: 0, y: 0 },
      inputs: [],
    });
    expect(llm).toMatchObject({
      model_config: MODEL,
      language_model_config: MODEL,
      inputs: [],
      outputs: [gen('output')],
    });
    expect(tool).toMatchObject({ params: {}, inputs: [], outputs: [gen('text')] });
    expect(tool.meta).toMatchObject({ type: 'api_tool', provider: { id: '' }, tool: { id: '' } });
    expect(retrieval).toMatchObject({ dataset_ids: [], meta: { datasets: [] } });
    expect(http).toMatchObject({ outputs: [gen('status_code', 'int', 0), gen('text')] });
    expect(data.edges).toEqual([]);
  });

  it('refuses only a malformed outline or an oversized draft', async () => {
    const id = await create();
    const cases: Array<[unknown, RegExp]> = [
      [{ nodes: {} }, /nodes must be an array/],
      [{ nodes: [{ id: 'x', node_type: 'teleport' }] }, /nodes\[0\]\.node_type must be one of/],
      [{ nodes: [{ node_type: 'start' }] }, /nodes\[0\]\.id must be a string/],
      [
        { nodes: [{ id: 'x', node_type: 'start', position: { x: 'a' } }] },
        /position must be \{x, y\} numbers/,
      ],
      [{ edges: [{ id: 'e', source: 'a' }] }, /edges\[0\]\.target must be a string/],
      [
        { nodes: Array.from({ length: 201 }, (_, i) => ({ id: `n${i}`, node_type: 'code' })) },
        /at most 200/,
      ],
    ];
    for (const [body, msg] of cases) {
      const res = await post(a, `/workflows/${id}/draft-graph`, body);
      expect(res.code).toBe('validate_error');
      expect(res.message).toMatch(msg);
    }
    // Nothing of it was stored.
    expect((await get<Graph>(a, `/workflows/${id}/draft-graph`)).data).toEqual({
      nodes: [],
      edges: [],
    });
  });

  it('publishes only after a debug pass and a valid graph; cancel-publish undoes it', async () => {
    const id = await create();
    const graph = validGraph(datasetId);
    await post(a, `/workflows/${id}/draft-graph`, graph);

    // No debug pass yet.
    const early = await post(a, `/workflows/${id}/publish`);
    expect(early).toMatchObject({ code: 'fail', message: expect.stringMatching(/debug/) });

    // A debug pass is reset by any save of the draft.
    await passDebug(a, id);
    expect((await get<Workflow>(a, `/workflows/${id}`)).data.is_debug_passed).toBe(true);
    await post(a, `/workflows/${id}/draft-graph`, graph);
    expect((await get<Workflow>(a, `/workflows/${id}`)).data.is_debug_passed).toBe(false);
    // A pass for a graph that is no longer the draft does not count.
    const svc = t.app.get(WorkflowService);
    expect(await svc.markDebugPassed(a.id, id, { nodes: [], edges: [] })).toBe(false);

    await passDebug(a, id);
    const before = Math.floor(Date.now() / 1000);
    const ok = await post(a, `/workflows/${id}/publish`);
    expect(ok).toMatchObject({ code: 'success', message: 'Workflow published' });
    const wf = (await get<Workflow>(a, `/workflows/${id}`)).data;
    expect(wf).toMatchObject({ status: 'published', is_debug_passed: true, node_count: 6 });
    expect(wf.published_at).toBeGreaterThanOrEqual(before - 1);
    const db = t.app.get(DataSource);
    const [row] = await db.query<Array<{ graph: Graph; draft_graph: Graph }>>(
      'SELECT graph, draft_graph FROM workflows WHERE id = $1',
      [id],
    );
    expect(row.graph).toEqual(row.draft_graph);
    expect((await svc.publishedGraph(a.id, id)).graph.nodes).toHaveLength(6);

    // Cancel: back to draft, published graph cleared, debug pass reset.
    const cancel = await post(a, `/workflows/${id}/cancel-publish`);
    expect(cancel).toMatchObject({ code: 'success', message: 'Workflow unpublished' });
    expect((await get<Workflow>(a, `/workflows/${id}`)).data).toMatchObject({
      status: 'draft',
      is_debug_passed: false,
      published_at: 0,
    });
    const [after] = await db.query<Array<{ graph: unknown }>>(
      'SELECT graph FROM workflows WHERE id = $1',
      [id],
    );
    expect(after.graph).toEqual({});
    // Cancelling a draft fails.
    expect(await post(a, `/workflows/${id}/cancel-publish`)).toMatchObject({
      code: 'fail',
      message: 'The workflow is not published',
    });
  });

  it('refuses to publish an invalid graph, naming every violation, and resets the pass', async () => {
    const id = await create();
    const graph = validGraph(datasetId);
    const llm = graph.nodes[1];
    llm.prompt = '';
    const tool = graph.nodes[2];
    tool.provider_id = 'no_such_provider';
    graph.nodes[3].dataset_ids = ['9b0c0d0e-0000-4000-8000-000000000000'];
    await post(a, `/workflows/${id}/draft-graph`, graph);
    await passDebug(a, id);

    const res = await post<Record<string, string[]>>(a, `/workflows/${id}/publish`);
    expect(res.code).toBe('validate_error');
    expect(res.message).toBe(`Node "LLM" (${ids.llm}): the prompt is required`);
    expect(res.data).toEqual({
      [`nodes.${ids.llm}`]: [`Node "LLM" (${ids.llm}): the prompt is required`],
      [`nodes.${ids.tool}`]: [
        expect.stringMatching(
          /^Node "Time" \(.+\): the tool builtin_tool\/no_such_provider\/current_time cannot be used: /,
        ),
      ],
      [`nodes.${ids.retrieval}`]: [
        `Node "Knowledge" (${ids.retrieval}): the dataset 9b0c0d0e-0000-4000-8000-000000000000 does not exist`,
      ],
    });
    expect((await get<Workflow>(a, `/workflows/${id}`)).data).toMatchObject({
      status: 'draft',
      is_debug_passed: false,
    });

    // Another account's dataset is not the account's either.
    const other = await post<{ id: string }>(b, '/datasets', {
      name: 'B docs',
      indexing_mode: 'economy',
    });
    const g2 = validGraph(other.data.id);
    await post(a, `/workflows/${id}/draft-graph`, g2);
    await passDebug(a, id);
    const res2 = await post(a, `/workflows/${id}/publish`);
    expect(res2).toMatchObject({
      code: 'validate_error',
      message: `Node "Knowledge" (${ids.retrieval}): the dataset ${other.data.id} does not exist`,
    });
  });

  it('deletes a workflow', async () => {
    const id = await create();
    expect(await post(a, `/workflows/${id}/delete`)).toMatchObject({
      code: 'success',
      message: 'Workflow deleted',
    });
    expect((await get(a, `/workflows/${id}`)).code).toBe('not_found');
  });

  it("answers not_found for another account's workflow on every route", async () => {
    const id = await create(a);
    await post(a, `/workflows/${id}/draft-graph`, validGraph(datasetId));
    const body = { name: 'Hijack', tool_call_name: 'hijack', icon: ICON, description: 'D' };
    const checks: Array<Promise<Envelope>> = [
      get(b, `/workflows/${id}`),
      get(b, `/workflows/${id}/draft-graph`),
      post(b, `/workflows/${id}`, body),
      post(b, `/workflows/${id}/draft-graph`, { nodes: [], edges: [] }),
      post(b, `/workflows/${id}/publish`),
      post(b, `/workflows/${id}/cancel-publish`),
      post(b, `/workflows/${id}/delete`),
      // A malformed id is the same not_found.
      get(a, '/workflows/not-a-uuid'),
    ];
    for (const res of await Promise.all(checks)) expect(res.code).toBe('not_found');
    const list = await get<Paged<Workflow>>(b, '/workflows', { search_word: 'Flow' });
    expect(list.data.list.map((w) => w.id)).not.toContain(id);
    // Untouched.
    const wf = (await get<Workflow>(a, `/workflows/${id}`)).data;
    expect(wf).toMatchObject({ status: 'draft', node_count: 6 });
    expect(wf.name).not.toBe('Hijack');
    const svc = t.app.get(WorkflowService);
    const { graph } = await svc.draftForRun(a.id, id);
    expect(await svc.markDebugPassed(b.id, id, graph)).toBe(false);
  });

  it('runs a stored, validated draft through the wired engine (the debug path)', async () => {
    const id = await create(a);
    const node = (nid: string, node_type: string, title: string, fields: Json) => ({
      id: nid,
      node_type,
      title,
      description: '',
      position: { x: 0, y: 0 },
      ...fields,
    });
    const draft: Graph = {
      nodes: [
        node(ids.start, 'start', 'Start', {
          inputs: [{ name: 'query', type: 'string', description: '', required: true }],
        }),
        node(ids.template, 'template_transform', 'Format', {
          template: 'Q: {{ query }}',
          inputs: [ref('query', ids.start, 'query')],
          outputs: [gen('output')],
        }),
        node(ids.end, 'end', 'End', { outputs: [ref('result', ids.template, 'output')] }),
      ],
      edges: [
        {
          id: 'e1',
          source: ids.start,
          source_type: 'start',
          target: ids.template,
          target_type: 'template_transform',
        },
        {
          id: 'e2',
          source: ids.template,
          source_type: 'template_transform',
          target: ids.end,
          target_type: 'end',
        },
      ],
    };
    expect((await post(a, `/workflows/${id}/draft-graph`, draft)).code).toBe('success');
    const svc = t.app.get(WorkflowService);
    const { graph } = await svc.draftForRun(a.id, id);
    await svc.validateDraft(a.id, graph);
    const result = await t.app
      .get(WorkflowEngine)
      .execute(graph as unknown as WorkflowGraph, { query: 'why?' }, { accountId: a.id });
    expect(result).toMatchObject({ status: 'succeeded', outputs: { result: 'Q: why?' } });
    expect(await svc.markDebugPassed(a.id, id, graph)).toBe(true);
  });
});
