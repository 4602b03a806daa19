import { FakeOpenAI, type FakeRecordedRequest } from '@test/fakes/fake-openai';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createApp } from '@test/support/apps';
import { createAccount, TestAccount } from '@test/support/auth';
import { openStream, postStream, type SseFrame, usageRows } from '@test/support/model-test-utils';
import { consoleRequests } from '@test/support/console-requests';
import { searchTerms } from 'src/modules/dataset/indexing/keywords';
import { WorkflowService } from 'src/modules/workflow/workflow.service';
import { DataSource } from 'typeorm';
import { eventually } from '@test/support/eventually';

/**
 * The agent chat end to end against the fake OpenAI server, scripted per test: the debug chat's
 * frames (CONSOLE-SHAPES §5) and what is stored, tools (a builtin tool's real output), the
 * knowledge-base tool, stop, timeout, the input and output review, memory, usage, a client that
 * leaves, ownership, and the ReAct fallback of a model without function calling.
 */

const ICON = 'http://localhost:5000/upload/app.png';
type Json = Record<string, any>;

/** Every field each agent frame's data carries (the console reads them). */
const FRAME_KEYS = [
  'id',
  'event',
  'thought',
  'observation',
  'tool',
  'tool_input',
  'answer',
  'latency',
  'conversation_id',
  'message_id',
  'task_id',
];

describe('Agent chat (e2e)', () => {
  let openai: FakeOpenAI;
  let t: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    openai = await FakeOpenAI.create();
    t = await createTestApp({
      env: {
        OPENAI_API_KEY: 'sk-test',
        OPENAI_API_BASE: openai.baseURL,
        DEEPSEEK_API_KEY: 'sk-deepseek',
        DEEPSEEK_API_BASE: openai.baseURL,
        MOONSHOT_API_KEY: 'sk-moonshot',
        MOONSHOT_API_BASE: openai.baseURL,
        MODEL_MAX_RETRIES: '0',
        SSE_PING_INTERVAL_MS: '10000',
      },
    });
    db = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t?.close();
    await openai?.close();
  });
  afterEach(() => {
    const left = openai.pending;
    openai.reset();
    expect(left).toBe(0);
  });

  // ---- helpers ----

  const { get, post } = consoleRequests(() => t);

  /** An app whose draft has `config` (keys of the draft config). */
  const newApp = (acc: TestAccount, config: Json = {}) => createApp(t, acc, { config });

  const chat = (acc: TestAccount, appId: string, query: string, extra: Json = {}) =>
    postStream(t.url, `/apps/${appId}/conversations`, { query, ...extra }, acc.auth);

  const live = (acc: TestAccount, appId: string, query: string) =>
    openStream(`${t.url}/apps/${appId}/conversations`, { query }, acc.auth);

  const TIME_TOOL = {
    type: 'builtin_tool',
    provider_id: 'time',
    tool_id: 'current_time',
    params: { timezone: 'UTC' },
  };
  const NOW_IN_SHANGHAI = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d Asia\/Shanghai \(UTC\+08:00\)$/;

  /** An economy (keyword-searched) dataset with one document of `contents` segments. */
  const datasetWith = async (acc: TestAccount, contents: string[]): Promise<string> => {
    const created = await post<{ id: string }>(acc, '/datasets', {
      name: `Docs ${Math.random().toString(36).slice(2, 8)}`,
      description: 'Docs',
      indexing_mode: 'economy',
    });
    expect(created.code).toBe('success');
    const datasetId = created.data.id;
    const [file] = await db.query<Json[]>(
      `INSERT INTO upload_files (account_id, name, key, size, extension, mime_type, hash, kind)
       VALUES ($1, 'policy.md', 'k', 10, 'md', 'text/markdown', repeat('a', 64), 'document') RETURNING id`,
      [acc.id],
    );
    const [doc] = await db.query<Json[]>(
      `INSERT INTO documents (account_id, dataset_id, upload_file_id, batch, name, position, process_rule, status, enabled)
       VALUES ($1, $2, $3, 'b1', 'policy.md', 1, '{}', 'completed', true) RETURNING id`,
      [acc.id, datasetId, file.id],
    );
    for (const [i, content] of contents.entries())
      await db.query(
        `INSERT INTO segments (account_id, dataset_id, document_id, position, content, hash, keywords,
                               character_count, token_count, enabled, status, search_vector)
         VALUES ($1, $2, $3, $4, $5, md5($5), '[]', length($5), 10, true, 'completed',
                 to_tsvector('simple', $6))`,
        [acc.id, datasetId, doc.id, i + 1, content, searchTerms(content)],
      );
    return datasetId;
  };

  /** A published workflow (start -> end) whose tool echoes `query` back as `result`. */
  const publishedWorkflow = async (acc: TestAccount, toolName: string): Promise<string> => {
    const created = await post<{ id: string }>(acc, '/workflows', {
      name: 'Echo',
      tool_call_name: toolName,
      icon: ICON,
      description: 'Echoes the query back',
    });
    expect(created.code).toBe('success');
    const id = created.data.id;
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
    const workflows = t.app.get(WorkflowService);
    const ran = await workflows.draftForRun(acc.id, id);
    expect(await workflows.markDebugPassed(acc.id, id, ran.graph)).toBe(true);
    expect((await post(acc, `/workflows/${id}/publish`)).code).toBe('success');
    return id;
  };

  const events = (frames: SseFrame[]) => frames.map((f) => f.event).filter((e) => e !== 'ping');

  const messageRow = async (id: string): Promise<Json> => {
    const [row] = await db.query<Json[]>('SELECT * FROM messages WHERE id = $1', [id]);
    return row;
  };
  const stepsOf = (id: string): Promise<Json[]> =>
    db.query<Json[]>(
      'SELECT * FROM message_agent_thoughts WHERE message_id = $1 ORDER BY position',
      [id],
    );

  /** The chat requests the fake received (the system prompt and messages the model saw). */
  const chatRequests = (): FakeRecordedRequest[] => openai.requestsTo('chat');
  const roles = (req: FakeRecordedRequest) =>
    (req.body.messages as Json[]).map((m) => `${m.role}:${contentOf(m)}`);
  const contentOf = (m: Json): string =>
    typeof m.content === 'string'
      ? m.content
      : Array.isArray(m.content)
        ? m.content.map((p: Json) => p.text ?? '').join('')
        : '';

  // ---- tests ----

  it('streams a plain answer as agent_message deltas under one id, then agent_end, and stores it', async () => {
    const acc = await createAccount(t);
    const appId = await newApp(acc, { preset_prompt: 'You are a pirate.' });
    openai.enqueue({
      type: 'text',
      chunks: ['Ahoy', ', matey', '!'],
      usage: { prompt_tokens: 30, completion_tokens: 7 },
    });
    const res = await chat(acc, appId, 'Say hello');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(events(res.frames)).toEqual([
      'agent_message',
      'agent_message',
      'agent_message',
      'agent_message',
      'agent_end',
    ]);
    for (const f of res.frames) {
      for (const key of FRAME_KEYS) expect(f.data).toHaveProperty(key);
      expect(f.data.event).toBe(f.event);
      expect(typeof f.data.latency).toBe('number');
    }
    const first = res.frames[0].data;
    expect(first.message_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.task_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.conversation_id).toMatch(/^[0-9a-f-]{36}$/);
    const messages = res.frames.filter((f) => f.event === 'agent_message');
    expect(new Set(messages.map((f) => f.data.id)).size).toBe(1);
    expect(messages.map((f) => f.data.thought).join('')).toBe('Ahoy, matey!');
    expect(messages.slice(0, 3).map((f) => f.data.answer)).toEqual(['Ahoy', ', matey', '!']);
    // The step's last frame carries the turn's tokens.
    expect(messages[3].data).toMatchObject({ thought: '', total_token_count: 37 });
    const end = res.frames.at(-1)!.data;
    expect(end).toMatchObject({
      event: 'agent_end',
      message_token_count: 30,
      answer_token_count: 7,
      total_token_count: 37,
    });
    // (30 * 0.15 + 7 * 0.6) / 1M
    expect(end.total_price).toBeCloseTo(0.0000087, 10);

    // The system prompt holds the preset prompt; streamed with usage from the provider.
    const [req] = chatRequests();
    expect(req.body.stream).toBe(true);
    expect(req.body.stream_options).toEqual({ include_usage: true });
    expect(roles(req)[0]).toContain('You are a pirate.');
    expect(roles(req).at(-1)).toBe('user:Say hello');

    const row = await messageRow(first.message_id);
    expect(row).toMatchObject({
      query: 'Say hello',
      answer: 'Ahoy, matey!',
      status: 'normal',
      invoke_from: 'debugger',
      app_id: appId,
      conversation_id: first.conversation_id,
      message_token_count: 30,
      answer_token_count: 7,
      total_token_count: 37,
      created_by: acc.id,
    });
    expect(Number(row.total_price)).toBeCloseTo(0.0000087, 10);
    expect(row.latency).toBeGreaterThan(0);
    const steps = await stepsOf(first.message_id);
    expect(steps).toHaveLength(1);
    expect(steps[0]).toMatchObject({
      event: 'agent_message',
      thought: 'Ahoy, matey!',
      position: 1,
      total_token_count: 37,
    });

    // The app remembers its debug conversation; the console lists the message from it.
    const detail = await get(acc, `/apps/${appId}`);
    expect(detail.data.debug_conversation_id).toBe(first.conversation_id);
    const list = await get(acc, `/apps/${appId}/conversations/messages?current_page=1&page_size=5`);
    expect(list.data.list).toHaveLength(1);
    expect(list.data.list[0]).toMatchObject({
      id: first.message_id,
      answer: 'Ahoy, matey!',
      total_token_count: 37,
      agent_thoughts: [{ event: 'agent_message', thought: 'Ahoy, matey!' }],
    });
  });

  it('sends uploaded images to the model inline (a provider cannot reach a private deployment), other URLs as they are', async () => {
    const acc = await createAccount(t);
    const appId = await newApp(acc);
    // A 1x1 transparent PNG, uploaded as the console does.
    const png = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
      'base64',
    );
    const up = await t
      .http()
      .post('/upload-files/image')
      .set(acc.auth)
      .attach('file', png, 'dot.png');
    const uploaded = up.body.data.image_url as string;
    expect(uploaded).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/upload-files\/images\//);
    const external = 'https://images.example.test/cat.jpg';
    openai.enqueue({ type: 'text', text: 'A dot and a cat.' });
    const res = await chat(acc, appId, 'What do you see?', { image_urls: [uploaded, external] });
    expect(events(res.frames).at(-1)).toBe('agent_end');
    const sent = openai.requestsTo('chat').at(-1)!.body.messages as Json[];
    expect(sent.at(-1)).toEqual({
      role: 'user',
      content: [
        { type: 'text', text: 'What do you see?' },
        {
          type: 'image_url',
          image_url: { url: `data:image/png;base64,${png.toString('base64')}` },
        },
        { type: 'image_url', image_url: { url: external } },
      ],
    });
    // The message keeps the URLs the user sent.
    const [row] = await db.query<Json[]>(`SELECT image_urls FROM messages WHERE id = $1`, [
      res.frames[0].data.message_id,
    ]);
    expect(row.image_urls).toEqual([uploaded, external]);
  });

  it('calls a tool: agent_thought with the calls, agent_action with the tool’s real output, then the answer; usage summed over the calls', async () => {
    const acc = await createAccount(t);
    const appId = await newApp(acc, { tools: [TIME_TOOL] });
    openai.enqueue([
      {
        type: 'tool_call',
        name: 'current_time',
        arguments: { timezone: 'Asia/Shanghai' },
        usage: { prompt_tokens: 100, completion_tokens: 10 },
      },
      {
        type: 'text',
        text: 'It is late in Shanghai.',
        usage: { prompt_tokens: 140, completion_tokens: 8 },
      },
    ]);
    const res = await chat(acc, appId, 'What time is it in Shanghai?');
    const evs = events(res.frames);
    expect(evs[0]).toBe('agent_thought');
    expect(evs[1]).toBe('agent_action');
    expect(evs.slice(2, -1).every((e) => e === 'agent_message')).toBe(true);
    expect(evs.at(-1)).toBe('agent_end');

    const thought = res.frames[0].data;
    expect(JSON.parse(thought.thought)).toEqual([
      {
        id: expect.any(String),
        name: 'current_time',
        args: { timezone: 'Asia/Shanghai' },
        type: 'tool_call',
      },
    ]);
    const action = res.frames[1].data;
    expect(action).toMatchObject({
      tool: 'current_time',
      tool_input: { timezone: 'Asia/Shanghai' },
    });
    expect(action.observation).toMatch(NOW_IN_SHANGHAI);
    expect(action.id).not.toBe(thought.id);

    // The model was offered the tool and read its result.
    const [first, second] = chatRequests();
    expect(first.body.tools.map((x: Json) => x.function.name)).toEqual(['current_time']);
    const toolMessage = (second.body.messages as Json[]).find((m) => m.role === 'tool')!;
    expect(contentOf(toolMessage)).toBe(action.observation);

    const end = res.frames.at(-1)!.data;
    expect(end).toMatchObject({
      message_token_count: 240,
      answer_token_count: 18,
      total_token_count: 258,
    });
    // (240 * 0.15 + 18 * 0.6) / 1M
    expect(end.total_price).toBeCloseTo(0.0000468, 10);
    const row = await messageRow(thought.message_id);
    expect(row).toMatchObject({
      answer: 'It is late in Shanghai.',
      status: 'normal',
      message_token_count: 240,
      answer_token_count: 18,
      total_token_count: 258,
    });
    expect(Number(row.total_price)).toBeCloseTo(0.0000468, 10);
    const steps = await stepsOf(thought.message_id);
    expect(steps.map((s) => [s.position, s.event])).toEqual([
      [1, 'agent_thought'],
      [2, 'agent_action'],
      [3, 'agent_message'],
    ]);
    expect(steps[0]).toMatchObject({ thought: thought.thought, total_token_count: 110 });
    expect(steps[1]).toMatchObject({
      tool: 'current_time',
      tool_input: { timezone: 'Asia/Shanghai' },
      observation: action.observation,
    });
    expect(steps[2]).toMatchObject({ thought: 'It is late in Shanghai.', total_token_count: 148 });
    // One usage row per model call, with the provider's counts.
    const usage = await usageRows(t, acc.id, (r) => r.length >= 2);
    expect(usage.map((u) => [u.source, u.prompt_tokens, u.completion_tokens])).toEqual([
      ['app.debugger', 100, 10],
      ['app.debugger', 140, 8],
    ]);
  });

  it('calls a published workflow as a tool and reads its outputs', async () => {
    const acc = await createAccount(t);
    const workflowId = await publishedWorkflow(acc, 'echo_flow');
    const appId = await newApp(acc, { workflows: [workflowId] });
    openai.enqueue([
      { type: 'tool_call', name: 'echo_flow', arguments: { query: 'ping pong' } },
      { type: 'text', text: 'The workflow said ping pong.' },
    ]);
    const res = await chat(acc, appId, 'Run the echo');
    const action = res.frames.find((f) => f.event === 'agent_action')!.data;
    expect(action).toMatchObject({ tool: 'echo_flow', tool_input: { query: 'ping pong' } });
    expect(JSON.parse(action.observation)).toEqual({ result: 'ping pong' });
    const offered = chatRequests()[0].body.tools as Json[];
    expect(offered.map((x) => x.function.name)).toEqual(['echo_flow']);
    expect(offered[0].function.parameters).toMatchObject({
      properties: { query: { type: 'string' } },
      required: ['query'],
    });
    expect(events(res.frames).at(-1)).toBe('agent_end');
  });

  it('searches the knowledge base as a tool: a dataset_retrieval step with the hits', async () => {
    const acc = await createAccount(t);
    const datasetId = await datasetWith(acc, [
      'Refunds are accepted within 30 days of purchase with a receipt.',
      'Our office is closed on public holidays.',
    ]);
    const appId = await newApp(acc, {
      datasets: [datasetId],
      retrieval_config: { retrieval_strategy: 'full_text', k: 2, score: 0 },
    });
    openai.enqueue([
      { type: 'tool_call', name: 'dataset_retrieval', arguments: { query: 'refunds receipt' } },
      { type: 'text', text: 'Within 30 days, with a receipt.' },
    ]);
    const res = await chat(acc, appId, 'Can I get a refund?');
    expect(events(res.frames).slice(0, 2)).toEqual(['agent_thought', 'dataset_retrieval']);
    const hit = res.frames[1].data;
    expect(hit).toMatchObject({
      event: 'dataset_retrieval',
      tool: 'dataset_retrieval',
      tool_input: { query: 'refunds receipt' },
    });
    expect(hit.observation).toContain('Refunds are accepted within 30 days');
    expect(hit.observation).not.toContain('public holidays');
    const toolMessage = (chatRequests()[1].body.messages as Json[]).find((m) => m.role === 'tool')!;
    expect(contentOf(toolMessage)).toBe(hit.observation);
    const steps = await stepsOf(hit.message_id);
    expect(steps[1]).toMatchObject({ event: 'dataset_retrieval', observation: hit.observation });
    // Logged as the app's query of the dataset.
    const [q] = await db.query<Json[]>(
      'SELECT source, source_app_id FROM dataset_queries WHERE dataset_id = $1',
      [datasetId],
    );
    expect(q).toMatchObject({ source: 'app', source_app_id: appId });
  });

  it('stops mid-stream by task id: a stop frame, the partial answer stored with status stop', async () => {
    const acc = await createAccount(t);
    const appId = await newApp(acc);
    openai.enqueue({
      type: 'text',
      chunks: ['one ', 'two ', 'three ', 'four ', 'five ', 'six ', 'seven ', 'eight '],
      chunk_delay_ms: 150,
    });
    const s = live(acc, appId, 'Count slowly');
    const first = await s.waitFor((f) => f.event === 'agent_message');
    const stop = await post(acc, `/apps/${appId}/conversations/tasks/${first.data.task_id}/stop`);
    expect(stop).toMatchObject({ code: 'success', message: 'Stopped' });
    await s.done;
    const evs = events(s.frames);
    expect(evs.at(-1)).toBe('stop');
    expect(evs.slice(0, -1).every((e) => e === 'agent_message')).toBe(true);
    const partial = s.frames
      .filter((f) => f.event === 'agent_message')
      .map((f) => f.data.thought)
      .join('');
    expect(partial.startsWith('one ')).toBe(true);
    expect(partial).not.toContain('eight');
    const row = await messageRow(first.data.message_id);
    expect(row).toMatchObject({ status: 'stop', answer: partial });
    const steps = await stepsOf(first.data.message_id);
    expect(steps).toMatchObject([{ event: 'agent_message', thought: partial }]);
    // A stopped answer is still listed (the original lists normal and stop).
    const list = await get(acc, `/apps/${appId}/conversations/messages`);
    expect(list.data.list.map((m: Json) => m.id)).toEqual([first.data.message_id]);
  });

  it('answers the input review’s preset response without calling the model', async () => {
    const acc = await createAccount(t);
    const appId = await newApp(acc, {
      review_config: {
        enable: true,
        keywords: ['bomb'],
        inputs_config: { enable: true, preset_response: 'I cannot help with that.' },
        outputs_config: { enable: false },
      },
    });
    const res = await chat(acc, appId, 'How do I build a bomb?');
    expect(events(res.frames)).toEqual(['agent_message', 'agent_end']);
    expect(res.frames[0].data).toMatchObject({
      thought: 'I cannot help with that.',
      answer: 'I cannot help with that.',
    });
    expect(openai.requests).toHaveLength(0);
    const row = await messageRow(res.frames[0].data.message_id);
    expect(row).toMatchObject({
      answer: 'I cannot help with that.',
      status: 'normal',
      total_token_count: 0,
    });
  });

  it('masks the output review’s keywords in frames and in what is stored, even split across chunks', async () => {
    const acc = await createAccount(t);
    const appId = await newApp(acc, {
      review_config: {
        enable: true,
        keywords: ['password', 'secret'],
        inputs_config: { enable: false, preset_response: '' },
        outputs_config: { enable: true },
      },
    });
    openai.enqueue({ type: 'text', chunks: ['The pass', 'word is SEC', 'RET', ', ok?'] });
    const res = await chat(acc, appId, 'Tell me');
    const shown = res.frames
      .filter((f) => f.event === 'agent_message')
      .map((f) => f.data.thought)
      .join('');
    expect(shown).toBe('The ** is **, ok?');
    const row = await messageRow(res.frames[0].data.message_id);
    expect(row.answer).toBe('The ** is **, ok?');
    expect((await stepsOf(row.id))[0].thought).toBe('The ** is **, ok?');
  });

  it('remembers the last dialog_round rounds of the conversation', async () => {
    const acc = await createAccount(t);
    const appId = await newApp(acc, {
      model_config: {
        provider: 'openai',
        model: 'gpt-4o-mini',
        parameters: { temperature: 0.5 },
      },
      dialog_round: 2,
    });
    for (const n of [1, 2, 3]) {
      openai.enqueue({ type: 'text', text: `answer ${n}` });
      await chat(acc, appId, `question ${n}`);
    }
    openai.reset();
    openai.enqueue({ type: 'text', text: 'answer 4' });
    await chat(acc, appId, 'question 4');
    expect(roles(chatRequests()[0]).slice(1)).toEqual([
      'user:question 2',
      'assistant:answer 2',
      'user:question 3',
      'assistant:answer 3',
      'user:question 4',
    ]);
    // dialog_round 0: no history at all.
    await post(acc, `/apps/${appId}/draft-app-config`, { dialog_round: 0 });
    openai.reset();
    openai.enqueue({ type: 'text', text: 'answer 5' });
    await chat(acc, appId, 'question 5');
    expect(roles(chatRequests()[0]).slice(1)).toEqual(['user:question 5']);
  });

  it('keeps the history inside the model’s context window (newest whole rounds first)', async () => {
    const acc = await createAccount(t);
    // moonshot-v1-8k: an 8192-token window; 4000 of them kept for the answer.
    const appId = await newApp(acc, {
      model_config: {
        provider: 'moonshot',
        model: 'moonshot-v1-8k',
        parameters: { max_tokens: 4000 },
      },
      dialog_round: 10,
    });
    const long = (n: number) => `${n} ${Array.from({ length: 1400 }, () => 'word').join(' ')}`;
    for (const n of [1, 2, 3]) {
      openai.enqueue({ type: 'text', text: long(n) });
      await chat(acc, appId, `question ${n}`);
    }
    openai.reset();
    openai.enqueue({ type: 'text', text: 'short' });
    await chat(acc, appId, 'question 4');
    const seen = roles(chatRequests()[0]).slice(1);
    // Three 1400-token answers do not fit in what is left: the oldest round goes.
    expect(seen.map((m) => m.slice(0, 'assistant:2'.length))).toEqual([
      'user:questi',
      'assistant:2',
      'user:questi',
      'assistant:3',
      'user:questi',
    ]);
  }, 60_000);

  it('goes on when the client disconnects: the whole answer and its steps are stored', async () => {
    const acc = await createAccount(t);
    const appId = await newApp(acc, { tools: [TIME_TOOL] });
    openai.enqueue([
      { type: 'tool_call', name: 'current_time', arguments: {} },
      { type: 'text', chunks: ['still ', 'here ', 'after ', 'you ', 'left'], chunk_delay_ms: 100 },
    ]);
    const s = live(acc, appId, 'Time?');
    const first = await s.waitFor((f) => f.event === 'agent_thought');
    s.drop();
    const row = await eventually(
      () => messageRow(first.data.message_id),
      (r) => r.answer !== '',
    );
    expect(row).toMatchObject({ answer: 'still here after you left', status: 'normal' });
    expect((await stepsOf(row.id)).map((x) => x.event)).toEqual([
      'agent_thought',
      'agent_action',
      'agent_message',
    ]);
  });

  it('stores no steps for a message removed while it was answered (its app or account purged)', async () => {
    const acc = await createAccount(t);
    const appId = await newApp(acc);
    openai.enqueue({ type: 'text', chunks: ['one ', 'two ', 'three'], chunk_delay_ms: 100 });
    const s = live(acc, appId, 'Count');
    const first = await s.waitFor((f) => f.event === 'agent_message');
    const messageId = first.data.message_id as string;
    await db.query('DELETE FROM messages WHERE id = $1', [messageId]);
    const end = await s.waitFor((f) => f.event === 'agent_end');
    expect(end.data.message_id).toBe(messageId);
    // The turn ended as usual; its steps did not outlive their message.
    expect(await messageRow(messageId)).toBeUndefined();
    expect(await stepsOf(messageId)).toEqual([]);
  });

  it('ends with an error frame (HTTP 200) when the model fails mid-turn, stored with status error', async () => {
    const acc = await createAccount(t);
    const appId = await newApp(acc);
    openai.enqueue({ type: 'stream_error', after_chunks: 2, message: 'upstream overloaded' });
    const res = await chat(acc, appId, 'Hi');
    expect(res.status).toBe(200);
    const last = res.frames.at(-1)!;
    expect(last.event).toBe('error');
    expect(last.data.observation).toMatch(/overloaded/);
    const row = await messageRow(last.data.message_id);
    expect(row.status).toBe('error');
    expect(row.error).toMatch(/overloaded/);
  });

  it('answers JSON envelopes before the stream: another account’s app, a bad body, no credentials', async () => {
    const alice = await createAccount(t);
    const bob = await createAccount(t);
    const appId = await newApp(alice);
    const other = await chat(bob, appId, 'Hi');
    expect(other.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(other.raw)).toMatchObject({ code: 'not_found' });
    for (const path of [`/apps/${appId}/conversations/messages`, `/apps/${appId}/summary`])
      expect((await get(bob, path)).code).toBe('not_found');
    for (const path of [
      `/apps/${appId}/conversations/tasks/${appId}/stop`,
      `/apps/${appId}/conversations/delete-debug-conversation`,
      `/apps/${appId}/summary`,
    ])
      expect((await post(bob, path)).code).toBe('not_found');
    const empty = await chat(alice, appId, '   ');
    expect(JSON.parse(empty.raw)).toMatchObject({ code: 'validate_error' });
    // Anthropic has no server key here: the model cannot be built.
    const claude = await newApp(alice, {
      model_config: { provider: 'anthropic', model: 'claude-3-5-haiku-latest', parameters: {} },
    });
    const noKey = await chat(alice, claude, 'Hi');
    expect(noKey.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(noKey.raw).code).toBe('fail');
    expect(openai.requests).toHaveLength(0);
  });

  it('never stops another account’s turn, whatever task id it sends', async () => {
    const alice = await createAccount(t);
    const bob = await createAccount(t);
    const aliceApp = await newApp(alice);
    const bobApp = await newApp(bob);
    openai.enqueue({ type: 'text', chunks: ['a', 'b', 'c', 'd'], chunk_delay_ms: 100 });
    const s = live(alice, aliceApp, 'Go');
    const first = await s.waitFor((f) => f.event === 'agent_message');
    const res = await post(bob, `/apps/${bobApp}/conversations/tasks/${first.data.task_id}/stop`);
    expect(res.code).toBe('success');
    await s.done;
    expect(events(s.frames).at(-1)).toBe('agent_end');
    expect((await messageRow(first.data.message_id)).status).toBe('normal');
  });

  it('falls back to ReAct for a model without function calling', async () => {
    const acc = await createAccount(t);
    const appId = await newApp(acc, {
      model_config: { provider: 'deepseek', model: 'deepseek-reasoner', parameters: {} },
      tools: [TIME_TOOL],
    });
    openai.enqueue([
      {
        type: 'text',
        text: 'Thought: I need the time.\nAction: current_time\nAction Input: {"timezone": "Asia/Shanghai"}',
      },
      { type: 'text', chunks: ['Thought: I know it.\nFinal ', 'Answer: It is ', 'night there.'] },
    ]);
    const res = await chat(acc, appId, 'Time in Shanghai?');
    expect(events(res.frames)).toEqual([
      'agent_thought',
      'agent_action',
      'agent_message',
      'agent_message',
      'agent_message',
      'agent_end',
    ]);
    expect(JSON.parse(res.frames[0].data.thought)).toMatchObject([
      { name: 'current_time', args: { timezone: 'Asia/Shanghai' }, type: 'tool_call' },
    ]);
    const action = res.frames[1].data;
    expect(action.tool).toBe('current_time');
    expect(action.observation).toMatch(NOW_IN_SHANGHAI);
    const answer = res.frames
      .filter((f) => f.event === 'agent_message')
      .map((f) => f.data.thought)
      .join('');
    expect(answer).toBe('It is night there.');
    const [first, second] = chatRequests();
    expect(first.body.model).toBe('deepseek-reasoner');
    expect(first.body.tools).toBeUndefined();
    expect(first.body.stop).toEqual(['\nObservation:']);
    expect(roles(first)[0]).toContain('Action Input:');
    expect(roles(first)[0]).toContain('current_time');
    expect(roles(second).at(-1)).toBe(`user:Observation: ${action.observation}`);
    const row = await messageRow(action.message_id);
    expect(row).toMatchObject({ answer: 'It is night there.', status: 'normal' });
  });

  it('tells a ReAct model what was wrong with a malformed action and lets it go on', async () => {
    const acc = await createAccount(t);
    const appId = await newApp(acc, {
      model_config: { provider: 'deepseek', model: 'deepseek-reasoner', parameters: {} },
      tools: [TIME_TOOL],
    });
    openai.enqueue([
      { type: 'text', text: 'Thought: hmm\nAction: clock\nAction Input: {}' },
      { type: 'text', text: 'Final Answer: I cannot tell.' },
    ]);
    const res = await chat(acc, appId, 'Time?');
    const evs = events(res.frames);
    expect(evs.at(-1)).toBe('agent_end');
    expect(new Set(evs.slice(0, -1))).toEqual(new Set(['agent_message']));
    const answer = res.frames
      .filter((f) => f.event === 'agent_message')
      .map((f) => f.data.thought)
      .join('');
    expect(answer).toBe('I cannot tell.');
    expect(roles(chatRequests()[1]).at(-1)).toMatch(
      /^user:Observation: Error: "clock" is not a tool; the tools are: current_time/,
    );
  });

  it('ends a tool loop at AGENT_MAX_ITERATIONS model calls with a fixed answer', async () => {
    const acc = await createAccount(t);
    const appId = await newApp(acc, { tools: [TIME_TOOL] });
    for (let i = 0; i < 5; i++)
      openai.enqueue({ type: 'tool_call', name: 'current_time', arguments: {} });
    const res = await chat(acc, appId, 'Loop');
    expect(chatRequests()).toHaveLength(5);
    expect(events(res.frames).filter((e) => e === 'agent_action')).toHaveLength(5);
    const row = await messageRow(res.frames[0].data.message_id);
    expect(row.answer).toMatch(/allowed number of steps/);
    expect(row.status).toBe('normal');
  });

  it('recalls and updates long-term memory (the conversation summary)', async () => {
    const acc = await createAccount(t);
    const appId = await newApp(acc);
    // Off: the summary routes fail.
    expect((await get(acc, `/apps/${appId}/summary`)).code).toBe('fail');
    expect((await post(acc, `/apps/${appId}/summary`, { summary: 'x' })).code).toBe('fail');
    await post(acc, `/apps/${appId}/draft-app-config`, { long_term_memory: { enable: true } });
    expect(await get(acc, `/apps/${appId}/summary`)).toMatchObject({
      code: 'success',
      data: { summary: '' },
    });
    expect(
      await post(acc, `/apps/${appId}/summary`, { summary: 'The user is called Ada.' }),
    ).toMatchObject({ code: 'success' });
    openai.enqueue([
      { type: 'text', text: 'Hello Ada!' },
      // The summarizer's call.
      { type: 'text', text: 'The user is called Ada and likes tea.' },
    ]);
    const res = await chat(acc, appId, 'I like tea');
    expect(events(res.frames)[0]).toBe('long_term_memory_recall');
    expect(res.frames[0].data.observation).toBe('The user is called Ada.');
    expect(roles(chatRequests()[0])[0]).toContain('The user is called Ada.');
    const summary = await eventually(
      () => get<{ summary: string }>(acc, `/apps/${appId}/summary`),
      (r) => r.data.summary !== 'The user is called Ada.',
    );
    expect(summary.data.summary).toBe('The user is called Ada and likes tea.');
    const summarizer = chatRequests()[1];
    expect(contentOf((summarizer.body.messages as Json[]).at(-1)!)).toContain(
      'Human: I like tea\nAI: Hello Ada!',
    );
    const steps = await stepsOf(res.frames[0].data.message_id);
    expect(steps[0]).toMatchObject({
      event: 'long_term_memory_recall',
      observation: 'The user is called Ada.',
    });
    const usage = await usageRows(t, acc.id, (r) => r.length >= 2);
    expect(usage.map((u) => u.source)).toEqual(['app.debugger', 'app.debugger.summary']);
  });

  it('clears the debug conversation: the next turn starts a new one', async () => {
    const acc = await createAccount(t);
    const appId = await newApp(acc);
    openai.enqueue({ type: 'text', text: 'first' });
    const one = await chat(acc, appId, 'one');
    const cleared = await post(acc, `/apps/${appId}/conversations/delete-debug-conversation`);
    expect(cleared).toMatchObject({ code: 'success', message: 'Debug conversation cleared' });
    expect((await get(acc, `/apps/${appId}`)).data.debug_conversation_id).toBe('');
    expect((await get(acc, `/apps/${appId}/conversations/messages`)).data.list).toEqual([]);
    openai.enqueue({ type: 'text', text: 'second' });
    const two = await chat(acc, appId, 'two');
    expect(two.frames[0].data.conversation_id).not.toBe(one.frames[0].data.conversation_id);
    // The new conversation has no memory of the old one.
    expect(roles(chatRequests()[1]).slice(1)).toEqual(['user:two']);
  });

  describe('the assistant agent', () => {
    const ask = (acc: TestAccount, query: string) =>
      postStream(t.url, '/assistant-agent/chat', { query }, acc.auth);

    it('creates an app for the user through a job, and keeps one conversation with memory', async () => {
      const acc = await createAccount(t);
      openai.enqueue([
        {
          type: 'tool_call',
          name: 'create_app',
          arguments: {
            name: 'Travel planner',
            description: 'Plans trips day by day.',
            preset_prompt: 'You are a travel planner.',
          },
        },
        { type: 'text', text: 'Your travel planner is on its way.' },
        // Long-term memory: the summarizer after the turn.
        { type: 'text', text: 'The user wanted a travel planner app.' },
      ]);
      const res = await ask(acc, 'Make me a travel planner app');
      expect(events(res.frames).slice(0, 2)).toEqual(['long_term_memory_recall', 'agent_thought']);
      const action = res.frames.find((f) => f.event === 'agent_action')!.data;
      expect(action).toMatchObject({
        tool: 'create_app',
        tool_input: { name: 'Travel planner', description: 'Plans trips day by day.' },
      });
      expect(JSON.parse(action.observation)).toMatchObject({
        status: 'creating',
        name: 'Travel planner',
      });
      expect(events(res.frames).at(-1)).toBe('agent_end');
      // The model is the server's ASSISTANT_AGENT_MODEL, told what it is for.
      const first = chatRequests()[0];
      expect(first.body.model).toBe('gpt-4o-mini');
      expect(roles(first)[0]).toContain('LLMOps assistant');

      const apps = await eventually(
        () => get<{ list: Json[] }>(acc, '/apps'),
        (r) => r.data.list.length > 0,
      );
      expect(apps.data.list).toMatchObject([
        {
          name: 'Travel planner',
          description: 'Plans trips day by day.',
          preset_prompt: 'You are a travel planner.',
          status: 'draft',
        },
      ]);
      expect(apps.data.list[0].icon).toMatch(
        /^http:\/\/127\.0\.0\.1:\d+\/language-models\/openai\/icon$/,
      );

      const row = await messageRow(action.message_id);
      expect(row).toMatchObject({
        invoke_from: 'assistant_agent',
        app_id: null,
        answer: 'Your travel planner is on its way.',
      });
      const summary = await eventually(
        async () =>
          (
            await db.query<Json[]>('SELECT summary FROM conversations WHERE id = $1', [
              action.conversation_id,
            ])
          )[0].summary as string,
        (v) => v !== '',
      );
      expect(summary).toBe('The user wanted a travel planner app.');

      // The next turn: same conversation, the last round and the summary remembered.
      openai.reset();
      openai.enqueue([
        { type: 'text', text: 'You asked for a travel planner.' },
        { type: 'text', text: 'Summary 2.' },
      ]);
      const again = await ask(acc, 'What did I ask?');
      expect(again.frames[0].data).toMatchObject({
        event: 'long_term_memory_recall',
        observation: 'The user wanted a travel planner app.',
        conversation_id: action.conversation_id,
      });
      expect(roles(chatRequests()[0]).slice(1)).toEqual([
        'user:Make me a travel planner app',
        'assistant:Your travel planner is on its way.',
        'user:What did I ask?',
      ]);
      await eventually(
        () => Promise.resolve(chatRequests().length),
        (n) => n >= 2,
      );
      const list = await get(acc, '/assistant-agent/messages?current_page=1&page_size=5');
      expect(list.data.list.map((m: Json) => m.query)).toEqual([
        'What did I ask?',
        'Make me a travel planner app',
      ]);
    });

    it('stops by task id, and starts over after delete-conversation', async () => {
      const acc = await createAccount(t);
      openai.enqueue({ type: 'text', chunks: ['a ', 'b ', 'c ', 'd ', 'e '], chunk_delay_ms: 150 });
      const s = openStream(`${t.url}/assistant-agent/chat`, { query: 'Talk' }, acc.auth);
      const first = await s.waitFor((f) => f.event === 'agent_message');
      const stopped = await post(acc, `/assistant-agent/chat/${first.data.task_id}/stop`);
      expect(stopped).toMatchObject({ code: 'success', message: 'Stopped' });
      await s.done;
      expect(s.frames.at(-1)!.event).toBe('stop');
      expect((await messageRow(first.data.message_id)).status).toBe('stop');

      expect(await post(acc, '/assistant-agent/delete-conversation')).toMatchObject({
        code: 'success',
      });
      expect((await get(acc, '/assistant-agent/messages')).data.list).toEqual([]);
      openai.enqueue([
        { type: 'text', text: 'Fresh start.' },
        { type: 'text', text: 'New summary.' },
      ]);
      const res = await ask(acc, 'Hello again');
      expect(res.frames[0].data.conversation_id).not.toBe(first.data.conversation_id);
      expect(res.frames[0].data.observation).toBe('');
      await eventually(
        () => Promise.resolve(openai.pending),
        (n) => n === 0,
      );
    });
  });
});
