import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { consoleRequests } from '@test/support/console-requests';
import { WorkflowService } from 'src/modules/workflow/workflow.service';
import { DataSource } from 'typeorm';

/**
 * The draft config, publishing and versions end to end (CONSOLE-SHAPES §4.2-4.5): every key the
 * console copies into its form, partial updates, the validation of each key, the model checked
 * against the catalog, tools in their stored and returned forms, workflows and datasets of the
 * account only, references that disappear dropped on read, publish/history/fallback/cancel, the
 * web-app token, and the related-app count datasets show.
 */

const ICON = 'http://localhost:5000/upload/app.png';
const MISSING = '00000000-0000-4000-8000-000000000000';

interface Paged<T> {
  list: T[];
  paginator: { current_page: number; page_size: number; total_page: number; total_record: number };
}
type Json = Record<string, unknown>;
interface Ref {
  id: string;
  name: string;
  icon: string;
  description: string;
}
interface ToolView {
  type: string;
  provider: { id: string; name: string; label: string; icon: string; description: string };
  tool: { id: string; name: string; label: string; description: string; params: Json };
}
interface Draft {
  id: string;
  model_config: { provider: string; model: string; parameters: Json };
  dialog_round: number;
  preset_prompt: string;
  tools: ToolView[];
  workflows: Ref[];
  datasets: Ref[];
  retrieval_config: Json;
  long_term_memory: { enable: boolean };
  opening_statement: string;
  opening_questions: string[];
  speech_to_text: { enable: boolean };
  text_to_speech: { enable: boolean; voice: string; auto_play: boolean };
  suggested_after_answer: { enable: boolean };
  review_config: Json;
  updated_at: number;
  created_at: number;
}
interface History {
  id: string;
  version: number;
  created_at: number;
}

/** An API tool provider in the original's format: one GET operation. */
const apiSchema = (operationId: string) =>
  JSON.stringify({
    server: 'http://127.0.0.1:9/api',
    description: 'Weather lookups',
    paths: {
      '/weather': {
        get: {
          description: 'The weather of a city',
          operationId,
          parameters: [
            { name: 'city', in: 'query', description: 'City', required: true, type: 'str' },
          ],
        },
      },
    },
  });

describe('App config and publishing (e2e)', () => {
  let t: TestApp;
  let a: TestAccount;
  let b: TestAccount;
  let db: DataSource;

  beforeAll(async () => {
    t = await createTestApp();
    db = t.app.get(DataSource);
    [a, b] = await Promise.all([createAccount(t), createAccount(t)]);
  });
  afterAll(async () => {
    await t?.close();
  });

  const { get, post } = consoleRequests(() => t);
  const createApp = async (acc: TestAccount, name = 'Helper'): Promise<string> => {
    const res = await post<{ id: string }>(acc, '/apps', { name, icon: ICON, fileList: [] });
    expect(res.code).toBe('success');
    return res.data.id;
  };
  const draftOf = async (acc: TestAccount, appId: string): Promise<Draft> => {
    const res = await get<Draft>(acc, `/apps/${appId}/draft-app-config`);
    expect(res.code).toBe('success');
    return res.data;
  };
  const save = (acc: TestAccount, appId: string, body: unknown) =>
    post(acc, `/apps/${appId}/draft-app-config`, body);
  const storedDraft = async (appId: string): Promise<Json> => {
    const [row] = await db.query<Json[]>(
      "SELECT * FROM app_config_versions WHERE app_id = $1 AND config_type = 'draft'",
      [appId],
    );
    return row;
  };
  let seq = 0;
  const createDataset = async (acc: TestAccount, name = `Docs ${++seq}`): Promise<string> => {
    const res = await post<{ id: string }>(acc, '/datasets', {
      name,
      description: 'Docs',
      indexing_mode: 'economy',
    });
    expect(res.code).toBe('success');
    return res.data.id;
  };
  const createApiTool = async (acc: TestAccount, operationId = 'getWeather'): Promise<string> => {
    const res = await post<{ id: string }>(acc, '/api-tools', {
      name: `weather ${++seq}`,
      icon: 'http://localhost:5000/upload/weather.png',
      openapi_schema: apiSchema(operationId),
      headers: [],
    });
    expect(res.code).toBe('success');
    return res.data.id;
  };
  /** A workflow, published unless `publish` is false (start -> end, debug pass marked). */
  const createWorkflow = async (acc: TestAccount, publish = true): Promise<string> => {
    seq += 1;
    const res = await post<{ id: string }>(acc, '/workflows', {
      name: `Flow ${seq}`,
      tool_call_name: `flow_${seq}`,
      icon: 'http://localhost:5000/upload/flow.png',
      description: 'Echoes the query',
    });
    expect(res.code).toBe('success');
    const id = res.data.id;
    if (!publish) return id;
    const start = '11111111-1111-4111-8111-111111111111';
    const end = '66666666-6666-4666-8666-666666666666';
    const graph = {
      nodes: [
        {
          id: start,
          node_type: 'start',
          title: 'Start',
          description: '',
          position: { x: 0, y: 0 },
          inputs: [{ name: 'query', type: 'string', description: 'Q', required: true }],
        },
        {
          id: end,
          node_type: 'end',
          title: 'End',
          description: '',
          position: { x: 300, y: 0 },
          outputs: [
            {
              name: 'result',
              description: '',
              required: true,
              type: 'string',
              value: { type: 'ref', content: { ref_node_id: start, ref_var_name: 'query' } },
              meta: {},
            },
          ],
        },
      ],
      edges: [{ id: 'e1', source: start, source_type: 'start', target: end, target_type: 'end' }],
    };
    expect((await post(acc, `/workflows/${id}/draft-graph`, graph)).code).toBe('success');
    const svc = t.app.get(WorkflowService);
    const ran = await svc.draftForRun(acc.id, id);
    expect(await svc.markDebugPassed(acc.id, id, ran.graph)).toBe(true);
    const published = await post(acc, `/workflows/${id}/publish`);
    expect(published).toMatchObject({ code: 'success' });
    return id;
  };

  describe('GET draft-app-config', () => {
    it('answers every key the console copies into its form, with the defaults', async () => {
      const appId = await createApp(a);
      const before = Math.floor(Date.now() / 1000);
      const draft = await draftOf(a, appId);
      expect(Object.keys(draft).sort()).toEqual(
        [
          'id',
          'model_config',
          'dialog_round',
          'preset_prompt',
          'tools',
          'workflows',
          'datasets',
          'retrieval_config',
          'long_term_memory',
          'opening_statement',
          'opening_questions',
          'speech_to_text',
          'text_to_speech',
          'suggested_after_answer',
          'review_config',
          'updated_at',
          'created_at',
        ].sort(),
      );
      expect(draft).toMatchObject({
        model_config: {
          provider: 'openai',
          model: 'gpt-4o-mini',
          parameters: {
            temperature: 0.5,
            top_p: 0.85,
            frequency_penalty: 0.2,
            presence_penalty: 0.2,
            max_tokens: 8192,
          },
        },
        dialog_round: 3,
        preset_prompt: '',
        tools: [],
        workflows: [],
        datasets: [],
        retrieval_config: { retrieval_strategy: 'semantic', k: 10, score: 0.5 },
        long_term_memory: { enable: false },
        opening_statement: '',
        opening_questions: [],
        speech_to_text: { enable: false },
        text_to_speech: { enable: false, voice: 'echo', auto_play: false },
        suggested_after_answer: { enable: true },
        review_config: {
          enable: false,
          keywords: [],
          inputs_config: { enable: false, preset_response: '' },
          outputs_config: { enable: false },
        },
      });
      expect(draft.created_at).toBeLessThanOrEqual(before + 1);
      expect(Number.isInteger(draft.updated_at)).toBe(true);
      // The detail's draft_updated_at is the draft row's.
      const detail = await get<{ draft_updated_at: number }>(a, `/apps/${appId}`);
      expect(detail.data.draft_updated_at).toBe(draft.updated_at);
    });

    it('gives the default model when the stored one is gone from the catalog, and saves it', async () => {
      const appId = await createApp(a);
      await db.query(
        `UPDATE app_config_versions SET model_config = '{"provider": "gone", "model": "x", "parameters": {}}'
          WHERE app_id = $1 AND config_type = 'draft'`,
        [appId],
      );
      expect((await draftOf(a, appId)).model_config).toMatchObject({
        provider: 'openai',
        model: 'gpt-4o-mini',
      });
      expect((await storedDraft(appId)).model_config).toMatchObject({ provider: 'openai' });
      // The list reads provider and model unguarded: a real model there too.
      const list = await get<Paged<{ id: string; model_config: Json }>>(a, '/apps');
      expect(list.data.list.find((x) => x.id === appId)?.model_config).toEqual({
        provider: 'openai',
        model: 'gpt-4o-mini',
      });
    });
  });

  describe('POST draft-app-config', () => {
    it('updates only the keys given (the console posts one section at a time)', async () => {
      const appId = await createApp(a);
      const before = await draftOf(a, appId);
      const res = await save(a, appId, { dialog_round: 10 });
      expect(res).toMatchObject({ code: 'success', message: 'Draft config saved', data: {} });
      const sections: Json[] = [
        { preset_prompt: 'You are a travel agent.' },
        { opening_statement: 'Hello!' },
        { opening_questions: ['Where to?', 'When?'] },
        { long_term_memory: { enable: true } },
        { suggested_after_answer: { enable: false } },
        { speech_to_text: { enable: true } },
        { text_to_speech: { enable: true, voice: 'nova', auto_play: true } },
        { retrieval_config: { retrieval_strategy: 'hybrid', k: 4, score: 0 } },
        {
          review_config: {
            enable: true,
            keywords: ['spam', ' ads ', ''],
            inputs_config: { enable: true, preset_response: 'I cannot answer that.' },
            outputs_config: { enable: true },
          },
        },
      ];
      for (const body of sections) expect((await save(a, appId, body)).code).toBe('success');
      const after = await draftOf(a, appId);
      expect(after).toMatchObject({
        id: before.id,
        model_config: before.model_config,
        dialog_round: 10,
        preset_prompt: 'You are a travel agent.',
        opening_statement: 'Hello!',
        opening_questions: ['Where to?', 'When?'],
        long_term_memory: { enable: true },
        suggested_after_answer: { enable: false },
        speech_to_text: { enable: true },
        text_to_speech: { enable: true, voice: 'nova', auto_play: true },
        retrieval_config: { retrieval_strategy: 'hybrid', k: 4, score: 0 },
        review_config: {
          enable: true,
          keywords: ['spam', 'ads'],
          inputs_config: { enable: true, preset_response: 'I cannot answer that.' },
          outputs_config: { enable: true },
        },
      });
      expect(after.updated_at).toBeGreaterThanOrEqual(before.updated_at);
    });

    it('answers validate_error naming the field, and changes nothing', async () => {
      const appId = await createApp(a);
      const cases: Array<[unknown, string, RegExp]> = [
        [{}, 'body', /at least one field/],
        [
          { dialog_round: 3, fileList: [] },
          'fileList',
          /fileList is not a field of the app config/,
        ],
        [{ dialog_round: 101 }, 'dialog_round', /dialog_round must be an integer from 0 to 100/],
        [{ preset_prompt: 'x'.repeat(2001) }, 'preset_prompt', /at most 2000 characters/],
        [{ opening_questions: ['1', '2', '3', '4'] }, 'opening_questions', /at most 3 items/],
        [
          {
            review_config: {
              enable: true,
              keywords: [],
              inputs_config: { enable: true, preset_response: 'x' },
              outputs_config: { enable: false },
            },
          },
          'review_config.keywords',
          /must not be empty when the review is enabled/,
        ],
        [
          { retrieval_config: { retrieval_strategy: 'semantic', k: 11, score: 0.5 } },
          'retrieval_config.k',
          /from 1 to 10/,
        ],
        [{ datasets: ['x'] }, 'datasets[0]', /must be a dataset id \(UUID\)/],
        [{ workflows: [MISSING, MISSING] }, 'workflows', /the same workflow twice/],
      ];
      for (const [body, field, message] of cases) {
        const res = await save(a, appId, body);
        expect(res.code).toBe('validate_error');
        expect(res.message).toMatch(message);
        expect(Object.keys(res.data)).toContain(field);
      }
      // A valid key beside an invalid one is not saved either.
      const mixed = await save(a, appId, { preset_prompt: 'kept?', dialog_round: -1 });
      expect(mixed.code).toBe('validate_error');
      expect((await draftOf(a, appId)).preset_prompt).toBe('');
      // A JSON array body.
      const arr = await save(a, appId, [{ dialog_round: 1 }]);
      expect(arr.code).toBe('validate_error');
    });

    it('checks the model against the catalog and coerces its parameters leniently', async () => {
      const appId = await createApp(a);
      const cases: Array<[Json, string, RegExp]> = [
        [
          { provider: 'nope', model: 'gpt-4o-mini', parameters: {} },
          'model_config.provider',
          /provider "nope" does not exist/,
        ],
        [
          { provider: 'openai', model: 'gpt-0', parameters: {} },
          'model_config.model',
          /"gpt-0" does not exist/,
        ],
        [
          { provider: 'openai', model: 'text-embedding-3-small', parameters: {} },
          'model_config.model',
          /not a chat model/,
        ],
        [
          { provider: 'openai', model: 'gpt-4o-mini' },
          'model_config',
          /exactly provider, model and parameters/,
        ],
      ];
      for (const [model_config, field, message] of cases) {
        const res = await save(a, appId, { model_config, dialog_round: 5 });
        expect(res.code).toBe('validate_error');
        expect(res.data).toHaveProperty([field]);
        expect(res.message).toMatch(message);
      }
      // Wrong values fall back to the defaults, missing ones are filled in, unknown ones dropped.
      const ok = await save(a, appId, {
        model_config: {
          provider: 'deepseek',
          model: 'deepseek-chat',
          parameters: { temperature: 9, top_p: 0.3, max_tokens: 'many', seed: 1 },
        },
        dialog_round: 5,
      });
      expect(ok.code).toBe('success');
      const draft = await draftOf(a, appId);
      expect(draft.dialog_round).toBe(5);
      expect(draft.model_config.provider).toBe('deepseek');
      expect(draft.model_config.model).toBe('deepseek-chat');
      const params = draft.model_config.parameters;
      expect(params.top_p).toBe(0.3);
      expect(params).not.toHaveProperty('seed');
      expect(typeof params.temperature).toBe('number');
      expect(params.temperature).not.toBe(9);
      expect(typeof params.max_tokens).toBe('number');
      // A custom model name of a provider that allows them.
      const custom = await save(a, appId, {
        model_config: { provider: 'ollama', model: 'qwen2.5:0.5b', parameters: {} },
      });
      expect(custom.code).toBe('success');
      expect((await draftOf(a, appId)).model_config).toMatchObject({
        provider: 'ollama',
        model: 'qwen2.5:0.5b',
      });
    });
  });

  describe('tools', () => {
    it('stores {type, provider_id, tool_id, params} and returns the expanded form', async () => {
      const appId = await createApp(a);
      const apiProvider = await createApiTool(a);
      const theirs = await createApiTool(b);
      const res = await save(a, appId, {
        tools: [
          {
            type: 'builtin_tool',
            provider_id: 'time',
            tool_id: 'current_time',
            params: { timezone: 'Asia/Shanghai', junk: 1 },
          },
          { type: 'builtin_tool', provider_id: 'time', tool_id: 'no_such_tool', params: {} },
          { type: 'builtin_tool', provider_id: 'no_such_provider', tool_id: 'x', params: {} },
          { type: 'api_tool', provider_id: apiProvider, tool_id: 'getWeather', params: { x: 1 } },
          { type: 'api_tool', provider_id: theirs, tool_id: 'getWeather', params: {} },
        ],
      });
      expect(res.code).toBe('success');
      // Tools that do not exist or are not ours are dropped silently.
      expect((await storedDraft(appId)).tools).toEqual([
        {
          type: 'builtin_tool',
          provider_id: 'time',
          tool_id: 'current_time',
          params: { timezone: 'Asia/Shanghai' },
        },
        { type: 'api_tool', provider_id: apiProvider, tool_id: 'getWeather', params: {} },
      ]);
      const [apiToolRow] = await db.query<Array<{ id: string }>>(
        'SELECT id FROM api_tools WHERE provider_id = $1',
        [apiProvider],
      );
      const { tools } = await draftOf(a, appId);
      expect(tools).toEqual([
        {
          type: 'builtin_tool',
          provider: {
            id: 'time',
            name: 'time',
            label: 'Time',
            icon: `${t.url}/builtin-tools/time/icon`,
            description: expect.any(String) as string,
          },
          tool: {
            id: 'current_time',
            name: 'current_time',
            label: 'Current time',
            description: expect.any(String) as string,
            params: { timezone: 'Asia/Shanghai' },
          },
        },
        {
          type: 'api_tool',
          provider: {
            id: apiProvider,
            name: expect.stringMatching(/^weather /) as string,
            label: expect.stringMatching(/^weather /) as string,
            icon: 'http://localhost:5000/upload/weather.png',
            description: 'Weather lookups',
          },
          tool: {
            id: apiToolRow.id,
            name: 'getWeather',
            label: 'getWeather',
            description: 'The weather of a city',
            params: {},
          },
        },
      ]);
      expect(tools[1].provider.name).toBe(tools[1].provider.label);
      // The icon URL loads without a token.
      const icon = await t.http().get('/builtin-tools/time/icon');
      expect(icon.status).toBe(200);
      // What the console posts back (provider_id = provider.id, tool_id = tool.name) round-trips.
      const back = tools.map((x) => ({
        type: x.type,
        provider_id: x.provider.id,
        tool_id: x.tool.name,
        params: x.tool.params,
      }));
      expect((await save(a, appId, { tools: back })).code).toBe('success');
      expect((await draftOf(a, appId)).tools).toEqual(tools);
    });

    it("refuses a builtin tool's invalid settings, more than 5 tools and duplicates", async () => {
      const appId = await createApp(a);
      const bad = await save(a, appId, {
        tools: [
          {
            type: 'builtin_tool',
            provider_id: 'dalle',
            tool_id: 'dalle3',
            params: { size: 'huge' },
          },
        ],
      });
      expect(bad.code).toBe('validate_error');
      expect(Object.keys(bad.data)).toEqual(['tools[0].params.size']);
      expect(bad.message).toMatch(/^tools\[0\] \(dalle\/dalle3\): params\.size must be one of/);
      const zone = await save(a, appId, {
        tools: [
          {
            type: 'builtin_tool',
            provider_id: 'time',
            tool_id: 'current_time',
            params: { timezone: 'Mars/Base' },
          },
        ],
      });
      expect(zone.code).toBe('validate_error');
      expect(zone.message).toMatch(/not an IANA time zone/);
      const tool = (n: number) => ({
        type: 'builtin_tool',
        provider_id: 'time',
        tool_id: `t${n}`,
        params: {},
      });
      const six = await save(a, appId, { tools: [1, 2, 3, 4, 5, 6].map(tool) });
      expect(six).toMatchObject({
        code: 'validate_error',
        message: 'tools can have at most 5 items',
      });
      const dup = await save(a, appId, { tools: [tool(1), tool(1)] });
      expect(dup.code).toBe('validate_error');
      expect(dup.message).toMatch(/a second time/);
      const shape = await save(a, appId, {
        tools: [{ type: 'api_tool', provider: { id: 'x' }, tool: { name: 'y' } }],
      });
      expect(shape.code).toBe('validate_error');
      expect(shape.message).toMatch(
        /tools\[0\] must be an object with exactly type, provider_id, tool_id and params/,
      );
      expect((await draftOf(a, appId)).tools).toEqual([]);
      // Default settings (what the console sends when binding) pass.
      const ok = await save(a, appId, {
        tools: [
          {
            type: 'builtin_tool',
            provider_id: 'dalle',
            tool_id: 'dalle3',
            params: { size: '1024x1024', style: 'vivid' },
          },
        ],
      });
      expect(ok.code).toBe('success');
    });

    it('drops a deleted API tool on read and saves the cleaned draft', async () => {
      const appId = await createApp(a);
      const provider = await createApiTool(a, 'getForecast');
      await save(a, appId, {
        tools: [
          { type: 'api_tool', provider_id: provider, tool_id: 'getForecast', params: {} },
          { type: 'builtin_tool', provider_id: 'time', tool_id: 'current_time', params: {} },
        ],
      });
      expect((await draftOf(a, appId)).tools).toHaveLength(2);
      expect((await post(a, `/api-tools/${provider}/delete`)).code).toBe('success');
      const { tools } = await draftOf(a, appId);
      expect(tools.map((x) => x.tool.name)).toEqual(['current_time']);
      expect((await storedDraft(appId)).tools).toEqual([
        { type: 'builtin_tool', provider_id: 'time', tool_id: 'current_time', params: {} },
      ]);
    });
  });

  describe('workflows and datasets', () => {
    it("keeps only the account's published workflows and its datasets, in the order given", async () => {
      const appId = await createApp(a);
      const [w1, w2, draftFlow, theirFlow] = await Promise.all([
        createWorkflow(a),
        createWorkflow(a),
        createWorkflow(a, false),
        createWorkflow(b),
      ]);
      const [d1, d2, theirDs] = await Promise.all([
        createDataset(a),
        createDataset(a),
        createDataset(b),
      ]);
      const res = await save(a, appId, {
        workflows: [w2, draftFlow, theirFlow, w1, MISSING],
        datasets: [d2, theirDs, d1.toUpperCase(), MISSING],
      });
      expect(res.code).toBe('success');
      const stored = await storedDraft(appId);
      expect(stored.workflows).toEqual([w2, w1]);
      expect(stored.datasets).toEqual([d2, d1]);
      const draft = await draftOf(a, appId);
      expect(draft.workflows.map((w) => w.id)).toEqual([w2, w1]);
      expect(draft.datasets.map((d) => d.id)).toEqual([d2, d1]);
      for (const ref of [...draft.workflows, ...draft.datasets])
        expect(Object.keys(ref).sort()).toEqual(['description', 'icon', 'id', 'name']);
      expect(draft.workflows[0]).toMatchObject({
        icon: 'http://localhost:5000/upload/flow.png',
        description: 'Echoes the query',
      });
      expect(draft.datasets[0]).toMatchObject({ description: 'Docs' });

      // An unpublished workflow and a deleted dataset disappear on the next read, for good.
      expect((await post(a, `/workflows/${w2}/cancel-publish`)).code).toBe('success');
      expect((await post(a, `/datasets/${d1}/delete`)).code).toBe('success');
      const after = await draftOf(a, appId);
      expect(after.workflows.map((w) => w.id)).toEqual([w1]);
      expect(after.datasets.map((d) => d.id)).toEqual([d2]);
      const cleaned = await storedDraft(appId);
      expect(cleaned.workflows).toEqual([w1]);
      expect(cleaned.datasets).toEqual([d2]);
    });

    it('refuses more than 5 of each', async () => {
      const appId = await createApp(a);
      const six = Array.from({ length: 6 }, (_, i) => MISSING.replace(/0$/, String(i + 1)));
      for (const key of ['workflows', 'datasets']) {
        const res = await save(a, appId, { [key]: six });
        expect(res).toMatchObject({
          code: 'validate_error',
          message: `${key} can have at most 5 items`,
        });
      }
    });
  });

  describe('publishing', () => {
    it('publishes immutable versions, lists them newest first and falls back to one', async () => {
      const appId = await createApp(a);
      await save(a, appId, { preset_prompt: 'Version one', dialog_round: 1 });
      const p1 = await post(a, `/apps/${appId}/publish`);
      expect(p1).toMatchObject({ code: 'success', message: 'App published', data: {} });
      expect((await get<{ status: string }>(a, `/apps/${appId}`)).data.status).toBe('published');

      // The list shows the published config while the draft moves on.
      await save(a, appId, { preset_prompt: 'Version two', dialog_round: 2 });
      const item = async () =>
        (
          await get<Paged<{ id: string; preset_prompt: string; status: string }>>(a, '/apps')
        ).data.list.find((x) => x.id === appId);
      expect(await item()).toMatchObject({ preset_prompt: 'Version one', status: 'published' });
      expect((await post(a, `/apps/${appId}/publish`)).code).toBe('success');
      expect(await item()).toMatchObject({ preset_prompt: 'Version two' });
      await save(a, appId, { preset_prompt: 'Draft three' });
      expect((await post(a, `/apps/${appId}/publish`)).code).toBe('success');

      const page1 = await get<Paged<History>>(a, `/apps/${appId}/publish-histories`, {
        current_page: 1,
        page_size: 2,
      });
      expect(page1.code).toBe('success');
      expect(page1.data.paginator).toEqual({
        current_page: 1,
        page_size: 2,
        total_page: 2,
        total_record: 3,
      });
      expect(page1.data.list.map((h) => h.version)).toEqual([3, 2]);
      for (const h of page1.data.list) {
        expect(Object.keys(h).sort()).toEqual(['created_at', 'id', 'version']);
        expect(Number.isInteger(h.created_at)).toBe(true);
      }
      const page2 = await get<Paged<History>>(a, `/apps/${appId}/publish-histories`, {
        current_page: 2,
        page_size: 2,
      });
      const [v1] = page2.data.list;
      expect(v1.version).toBe(1);

      // Versions never change: editing the draft leaves them as published.
      await save(a, appId, { preset_prompt: 'Edited after publishing' });
      const [row] = await db.query<Array<{ preset_prompt: string; dialog_round: number }>>(
        'SELECT preset_prompt, dialog_round FROM app_config_versions WHERE id = $1',
        [v1.id],
      );
      expect(row).toEqual({ preset_prompt: 'Version one', dialog_round: 1 });

      const back = await post(a, `/apps/${appId}/fallback-history`, {
        app_config_version_id: v1.id,
      });
      expect(back).toMatchObject({ code: 'success', message: 'Version restored to the draft' });
      const draft = await draftOf(a, appId);
      expect(draft).toMatchObject({ preset_prompt: 'Version one', dialog_round: 1 });
      // Fallback edits the draft only: the running version is still the latest.
      expect(await item()).toMatchObject({ preset_prompt: 'Draft three' });
      expect(
        (await get<Paged<History>>(a, `/apps/${appId}/publish-histories`)).data.paginator
          .total_record,
      ).toBe(3);
    });

    it('validates fallback-history and finds only versions of this app', async () => {
      const appId = await createApp(a);
      const other = await createApp(a);
      await post(a, `/apps/${other}/publish`);
      const [otherVersion] = (await get<Paged<History>>(a, `/apps/${other}/publish-histories`)).data
        .list;
      const draftId = (await draftOf(a, appId)).id;
      expect(await post(a, `/apps/${appId}/fallback-history`, {})).toMatchObject({
        code: 'validate_error',
        message: 'app_config_version_id is required',
      });
      expect(
        await post(a, `/apps/${appId}/fallback-history`, { app_config_version_id: 'v1' }),
      ).toMatchObject({ code: 'validate_error', message: 'app_config_version_id must be a UUID' });
      for (const id of [MISSING, otherVersion.id, draftId]) {
        expect(
          await post(a, `/apps/${appId}/fallback-history`, { app_config_version_id: id }),
        ).toMatchObject({ code: 'not_found', message: 'The version does not exist' });
      }
    });

    it('falls back leniently: what no longer exists is left out', async () => {
      const appId = await createApp(a);
      const ds = await createDataset(a);
      await save(a, appId, {
        datasets: [ds],
        tools: [{ type: 'builtin_tool', provider_id: 'time', tool_id: 'current_time', params: {} }],
      });
      await post(a, `/apps/${appId}/publish`);
      const [v1] = (await get<Paged<History>>(a, `/apps/${appId}/publish-histories`)).data.list;
      await save(a, appId, { datasets: [], tools: [] });
      await post(a, `/datasets/${ds}/delete`);
      expect(
        (await post(a, `/apps/${appId}/fallback-history`, { app_config_version_id: v1.id })).code,
      ).toBe('success');
      const stored = await storedDraft(appId);
      expect(stored.datasets).toEqual([]);
      expect(stored.tools).toEqual([
        { type: 'builtin_tool', provider_id: 'time', tool_id: 'current_time', params: {} },
      ]);
    });

    it('gives concurrent publishes consecutive versions', async () => {
      const appId = await createApp(a);
      const results = await Promise.all([1, 2, 3, 4].map(() => post(a, `/apps/${appId}/publish`)));
      for (const r of results) expect(r.code).toBe('success');
      const { list } = (await get<Paged<History>>(a, `/apps/${appId}/publish-histories`)).data;
      expect(list.map((h) => h.version)).toEqual([4, 3, 2, 1]);
    });

    it('cancel-publish stops the running config; fail when not published', async () => {
      const appId = await createApp(a);
      expect(await post(a, `/apps/${appId}/cancel-publish`)).toMatchObject({
        code: 'fail',
        message: 'The app is not published',
      });
      await save(a, appId, { preset_prompt: 'Live' });
      await post(a, `/apps/${appId}/publish`);
      await save(a, appId, { preset_prompt: 'Draft' });
      const res = await post(a, `/apps/${appId}/cancel-publish`);
      expect(res).toMatchObject({ code: 'success', message: 'App unpublished', data: {} });
      expect((await get<{ status: string }>(a, `/apps/${appId}`)).data.status).toBe('draft');
      // The list falls back to the draft; the history stays.
      const list = await get<Paged<{ id: string; preset_prompt: string; status: string }>>(
        a,
        '/apps',
      );
      expect(list.data.list.find((x) => x.id === appId)).toMatchObject({
        preset_prompt: 'Draft',
        status: 'draft',
      });
      expect(
        (await get<Paged<History>>(a, `/apps/${appId}/publish-histories`)).data.list,
      ).toHaveLength(1);
      expect((await post(a, `/apps/${appId}/cancel-publish`)).code).toBe('fail');
    });

    it('makes the web-app token lazily, keeps it, regenerates it and drops it on cancel-publish', async () => {
      const appId = await createApp(a);
      const config = async () =>
        (
          await get<{ web_app: { token: string; status: string } }>(
            a,
            `/apps/${appId}/published-config`,
          )
        ).data;
      expect(await config()).toEqual({ web_app: { token: '', status: 'draft' } });
      expect(
        await post(a, `/apps/${appId}/published-config/regenerate-web-app-token`),
      ).toMatchObject({
        code: 'fail',
      });

      await post(a, `/apps/${appId}/publish`);
      // Publishing does not make it; the first read does.
      const [before] = await db.query<Array<{ token: string | null }>>(
        'SELECT token FROM apps WHERE id = $1',
        [appId],
      );
      expect(before.token).toBeNull();
      const first = await config();
      expect(first.web_app.status).toBe('published');
      expect(first.web_app.token).toMatch(/^[A-Za-z0-9]{16}$/);
      expect((await config()).web_app.token).toBe(first.web_app.token);
      const regen = await post<{ token: string }>(
        a,
        `/apps/${appId}/published-config/regenerate-web-app-token`,
      );
      expect(regen).toMatchObject({ code: 'success', message: 'Web-app link regenerated' });
      expect(regen.data.token).toMatch(/^[A-Za-z0-9]{16}$/);
      expect(regen.data.token).not.toBe(first.web_app.token);
      expect((await config()).web_app.token).toBe(regen.data.token);

      await post(a, `/apps/${appId}/cancel-publish`);
      expect(await config()).toEqual({ web_app: { token: '', status: 'draft' } });
      await post(a, `/apps/${appId}/publish`);
      const again = await config();
      expect(again.web_app.token).toMatch(/^[A-Za-z0-9]{16}$/);
      expect([first.web_app.token, regen.data.token]).not.toContain(again.web_app.token);
    });

    it('agrees on one token when first reads race', async () => {
      const appId = await createApp(a);
      await post(a, `/apps/${appId}/publish`);
      const reads = await Promise.all(
        [1, 2, 3].map(() =>
          get<{ web_app: { token: string } }>(a, `/apps/${appId}/published-config`),
        ),
      );
      expect(new Set(reads.map((r) => r.data.web_app.token)).size).toBe(1);
    });
  });

  it("counts the published apps using a dataset in the dataset's related_app_count", async () => {
    const acc = await createAccount(t);
    const ds = await createDataset(acc);
    const count = async () =>
      (await get<{ related_app_count: number }>(acc, `/datasets/${ds}`)).data.related_app_count;
    const listed = async () =>
      (
        await get<Paged<{ id: string; related_app_count: number }>>(acc, '/datasets')
      ).data.list.find((d) => d.id === ds)?.related_app_count;
    const app1 = await createApp(acc, 'One');
    const app2 = await createApp(acc, 'Two');
    await save(acc, app1, { datasets: [ds] });
    await save(acc, app2, { datasets: [ds] });
    expect(await count()).toBe(0); // drafts do not count
    await post(acc, `/apps/${app1}/publish`);
    await post(acc, `/apps/${app1}/publish`);
    expect(await count()).toBe(1); // one app, however many versions
    await post(acc, `/apps/${app2}/publish`);
    expect(await count()).toBe(2);
    expect(await listed()).toBe(2);
    // The running version decides: a republish without the dataset stops counting.
    await save(acc, app2, { datasets: [] });
    await post(acc, `/apps/${app2}/publish`);
    expect(await count()).toBe(1);
    await post(acc, `/apps/${app1}/cancel-publish`);
    expect(await count()).toBe(0);
  });
});
