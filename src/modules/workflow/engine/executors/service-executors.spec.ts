import type { RetrievalHit, RetrieveInput } from 'src/modules/dataset/retrieval/retrieval.service';
import type {
  ModelRef,
  RuntimeChatModel,
  RuntimeContext,
} from 'src/modules/model/runtime/model-runtime.service';
import type { ToolRef, ToolResult } from 'src/modules/tool/runtime/tool.types';
import type {
  ClassifierClass,
  CodeNode,
  DatasetRetrievalNode,
  IterationNode,
  LlmNode,
  NodeRunSettings,
  QuestionClassifierNode,
  ToolNode,
  Variable,
  WorkflowNode,
} from 'src/modules/workflow/graph/graph.types';
import type { CodeRunner } from '../engine.types';
import {
  endNode,
  generated,
  graphOf,
  literal,
  ref,
  startNode,
  templateNode,
} from '../testing/graph-builder';
import { ExecutorRegistry, WorkflowEngine } from '../workflow-engine';
import { registerCoreExecutors, registerServiceExecutors } from './index';
import { parseClass, renderPrompt } from './llm.executors';

const ACCOUNT = '00000000-0000-4000-8000-000000000001';
const base = (id: string) => ({ id, title: id, description: '', position: { x: 0, y: 0 } });
const MODEL = { provider: 'openai', model: 'gpt-4o-mini', parameters: { temperature: 0.2 } };

/** A canned answer, a failure, or a call that hangs until aborted. */
type Answer = { text: string } | Error | 'hang';

/**
 * A ModelRuntime double: answers in turn (`'hang'` waits for the abort), recording prompts and
 * contexts.
 */
class FakeModels {
  readonly calls: Array<{ ref: ModelRef; ctx: RuntimeContext; messages: string[] }> = [];
  private readonly answers: Answer[];
  constructor(answers: Array<string | Error>) {
    this.answers = answers.map((a) => (typeof a === 'string' && a !== 'hang' ? { text: a } : a));
  }
  chat(ref: ModelRef, ctx: RuntimeContext): Promise<RuntimeChatModel> {
    const call = { ref, ctx, messages: [] as string[] };
    this.calls.push(call);
    const answer = this.answers.shift() ?? { text: 'default' };
    const model = {
      invoke: (messages: Array<{ content: unknown }>, opts: { signal: AbortSignal }) => {
        call.messages = messages.map((m) => String(m.content));
        if (answer instanceof Error) return Promise.reject(answer);
        if (answer === 'hang')
          return new Promise((_, reject) =>
            opts.signal.addEventListener('abort', () => reject(new Error('aborted by signal'))),
          );
        return Promise.resolve({ content: [{ type: 'text', text: answer.text }] });
      },
    };
    return Promise.resolve({ model } as unknown as RuntimeChatModel);
  }
}

class FakeTools {
  readonly calls: Array<{ ref: ToolRef; args: Record<string, unknown> }> = [];
  constructor(private readonly result: Partial<ToolResult>) {}
  invoke(_account: string, ref: ToolRef, args: Record<string, unknown>): Promise<ToolResult> {
    this.calls.push({ ref, args });
    return Promise.resolve({
      ok: true,
      output: '',
      data: null,
      error: '',
      latency: 1,
      ...this.result,
    });
  }
}

class FakeRetrieval {
  readonly calls: RetrieveInput[] = [];
  constructor(private readonly contents: string[]) {}
  retrieve(_account: string, input: RetrieveInput): Promise<RetrievalHit[]> {
    this.calls.push(input);
    return Promise.resolve(this.contents.map((content) => ({ content }) as RetrievalHit));
  }
}

/** Runs `main` as a JS function of the params: a test double of the QuickJS sandbox. */
class FakeRunner implements CodeRunner {
  readonly calls: Array<{ params: Record<string, unknown>; timeoutMs: number }> = [];
  run(code: string, params: Record<string, unknown>, opts: { timeoutMs: number }) {
    this.calls.push({ params, timeoutMs: opts.timeoutMs });
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const main = new Function(`${code}; return main;`)() as (p: unknown) => unknown;
    return Promise.resolve(main(params) as Record<string, unknown>);
  }
}

interface Deps {
  models?: FakeModels;
  tools?: FakeTools;
  retrieval?: FakeRetrieval;
  code?: CodeRunner;
}

function registryWith(deps: Deps): ExecutorRegistry {
  const registry = registerCoreExecutors(new ExecutorRegistry(), { http: {} as never });
  return registerServiceExecutors(registry, {
    models: deps.models ?? new FakeModels([]),
    tools: deps.tools ?? new FakeTools({}),
    retrieval: deps.retrieval ?? new FakeRetrieval([]),
    code: deps.code,
  });
}

const engineWith = (deps: Deps): WorkflowEngine => new WorkflowEngine(registryWith(deps));

/** Wraps the template executor to see each call's inputs. */
function spyTemplates(
  registry: ExecutorRegistry,
  onRun: (inputs: Record<string, unknown>) => Promise<void>,
) {
  const template = registry.get('template_transform')!;
  registry.register('template_transform', {
    async run(node, inputs, ctx) {
      await onRun(inputs);
      return template.run(node, inputs, ctx);
    },
  });
  return new WorkflowEngine(registry);
}

/** start(q) -> node -> end(out = node.<outVar>) */
function around(node: WorkflowNode, outVar: string, type: Variable['type'] = 'string') {
  return graphOf(
    [startNode('S', [{ name: 'q' }]), node, endNode('E', [ref('out', node.id, outVar, type)])],
    [
      ['S', node.id],
      [node.id, 'E'],
    ],
  );
}

const llmNode = (prompt: string, inputs: Variable[]): LlmNode => ({
  ...base('L'),
  node_type: 'llm',
  prompt,
  model_config: MODEL,
  language_model_config: { ...MODEL, model: 'stale' },
  inputs,
  outputs: [generated('output')],
});

describe('llm executor', () => {
  it('renders {{var}} and Jinja, asks the model_config model leniently and returns output', async () => {
    const models = new FakeModels(['Bonjour']);
    const node = llmNode('Translate {{ q }}{% if n > 1 %} x{{n}}{% endif %}: {{ obj }}', [
      ref('q', 'S', 'q'),
      literal('n', 2, 'int'),
      literal('obj', { a: 1 }, 'object'),
    ]);
    const res = await engineWith({ models }).execute(
      around(node, 'output'),
      { q: 'hello' },
      {
        accountId: ACCOUNT,
      },
    );
    expect(res).toMatchObject({ status: 'succeeded', outputs: { out: 'Bonjour' } });
    expect(models.calls[0].messages).toEqual(['Translate hello x2: {"a":1}']);
    expect(models.calls[0].ref).toEqual(MODEL);
    expect(models.calls[0].ctx).toMatchObject({
      accountId: ACCOUNT,
      source: 'workflow',
      parameterMode: 'lenient',
    });
  });

  it('fails the node with the model error, and an empty prompt without calling', async () => {
    const failing = new FakeModels([new Error('HTTP 500')]);
    const res = await engineWith({ models: failing }).execute(
      around(llmNode('Hi {{q}}', [ref('q', 'S', 'q')]), 'output'),
      { q: 'x' },
      { accountId: ACCOUNT },
    );
    expect(res.status).toBe('failed');
    expect(res.error).toContain('the model call failed: HTTP 500');

    const unused = new FakeModels([]);
    const empty = await engineWith({ models: unused }).execute(
      around(llmNode('{{q}}', [ref('q', 'S', 'q')]), 'output'),
      { q: '  ' },
      { accountId: ACCOUNT },
    );
    expect(empty.error).toContain('the prompt is empty');
    expect(unused.calls).toHaveLength(0);
  });

  it('is aborted by the run signal', async () => {
    const stop = new AbortController();
    const run = engineWith({ models: new FakeModels(['hang']) }).execute(
      around(llmNode('Hi {{q}}', [ref('q', 'S', 'q')]), 'output'),
      { q: 'x' },
      { accountId: ACCOUNT, signal: stop.signal },
    );
    setTimeout(() => stop.abort(), 20);
    expect((await run).status).toBe('stopped');
  });

  it('renderPrompt leaves text without tags alone', async () => {
    expect(await renderPrompt('{"json": true} plain', {})).toBe('{"json": true} plain');
  });
});

describe('question_classifier executor', () => {
  const classes: ClassifierClass[] = [
    { id: 'c_sales', name: 'Sales question' },
    { id: 'c_support', name: 'Technical support' },
  ];
  it.each<[string, string | null]>([
    ['{"class_id": "c_support"}', 'c_support'],
    ['```json\n{"class_id":"c_sales"}\n```', 'c_sales'],
    ['{"class_name": "technical support"}', 'c_support'],
    ['c_support', 'c_support'],
    ['"Technical support."', 'c_support'],
    ['I think this is Sales question because...', 'c_sales'],
    ['no idea', null],
    ['either c_sales or c_support', null],
  ])('parses %j as %s', (answer, id) => {
    expect(parseClass(answer, classes)?.id ?? null).toBe(id);
  });

  const classifier = (): QuestionClassifierNode => ({
    ...base('Q'),
    node_type: 'question_classifier',
    model_config: MODEL,
    language_model_config: MODEL,
    instruction: 'Billing counts as sales',
    inputs: [ref('query', 'S', 'q')],
    classes,
    outputs: [generated('class_name')],
  });
  const branched = () =>
    graphOf(
      [
        startNode('S', [{ name: 'q' }]),
        classifier(),
        templateNode('A', 'sales:{{c}}', [ref('c', 'Q', 'class_name')]),
        templateNode('B', 'support:{{c}}', [ref('c', 'Q', 'class_name')]),
        endNode('E', [ref('a', 'A', 'output'), ref('b', 'B', 'output')]),
      ],
      [
        ['S', 'Q'],
        ['Q', 'A', 'c_sales'],
        ['Q', 'B', 'c_support'],
        ['A', 'E'],
        ['B', 'E'],
      ],
    );

  it('takes the picked class handle and names it', async () => {
    const models = new FakeModels(['{"class_id":"c_support"}']);
    const res = await engineWith({ models }).execute(
      branched(),
      { q: 'my app crashes' },
      {
        accountId: ACCOUNT,
      },
    );
    expect(res).toMatchObject({
      status: 'succeeded',
      outputs: { a: null, b: 'support:Technical support' },
    });
    const [system, user] = models.calls[0].messages;
    expect(system).toContain('"class_id":"c_sales"');
    expect(system).toContain('Billing counts as sales');
    expect(user).toBe('my app crashes');
  });

  it('falls back to the first class when the answer names none', async () => {
    const res = await engineWith({ models: new FakeModels(['hmm']) }).execute(
      branched(),
      { q: 'x' },
      { accountId: ACCOUNT },
    );
    expect(res.outputs).toEqual({ a: 'sales:Sales question', b: null });
  });
});

describe('tool executor', () => {
  const toolNode = (settings: NodeRunSettings = {}): ToolNode => ({
    ...base('T'),
    node_type: 'tool',
    tool_type: 'builtin_tool',
    provider_id: 'time',
    tool_id: 'current_time',
    params: { timezone: 'UTC' },
    inputs: [ref('timezone', 'S', 'q')],
    outputs: [generated('text')],
    meta: {},
    ...settings,
  });

  it('invokes the tool with params and inputs and returns text', async () => {
    const tools = new FakeTools({ output: '12:00' });
    const res = await engineWith({ tools }).execute(
      around(toolNode(), 'text'),
      { q: 'Asia/Tokyo' },
      {
        accountId: ACCOUNT,
      },
    );
    expect(res).toMatchObject({ status: 'succeeded', outputs: { out: '12:00' } });
    expect(tools.calls[0]).toEqual({
      ref: {
        type: 'builtin_tool',
        provider: 'time',
        tool: 'current_time',
        params: { timezone: 'UTC' },
      },
      args: { timezone: 'Asia/Tokyo' },
    });
  });

  it('fails the node on a failed call; the error strategy then applies', async () => {
    const tools = new FakeTools({
      ok: false,
      error: 'upstream 503',
      output: 'Error: upstream 503',
    });
    const failed = await engineWith({ tools }).execute(
      around(toolNode(), 'text'),
      { q: 'x' },
      {
        accountId: ACCOUNT,
      },
    );
    expect(failed).toMatchObject({ status: 'failed' });
    expect(failed.error).toContain('the tool failed: upstream 503');

    const absorbed = await engineWith({ tools }).execute(
      around(
        toolNode({ error_strategy: 'default_value', default_outputs: { text: 'n/a' } }),
        'text',
      ),
      { q: 'x' },
      { accountId: ACCOUNT },
    );
    expect(absorbed).toMatchObject({ status: 'succeeded', outputs: { out: 'n/a' } });
  });
});

describe('dataset_retrieval executor', () => {
  const node: DatasetRetrievalNode = {
    ...base('D'),
    node_type: 'dataset_retrieval',
    dataset_ids: ['11111111-1111-4111-8111-111111111111'],
    retrieval_config: { retrieval_strategy: 'hybrid', k: 3, score: 0.5 },
    inputs: [ref('query', 'S', 'q')],
    outputs: [generated('combine_documents')],
    meta: { datasets: [] },
  };

  it('retrieves with the node config, source workflow, and joins the hits', async () => {
    const retrieval = new FakeRetrieval(['first', 'second']);
    const res = await engineWith({ retrieval }).execute(
      around(node, 'combine_documents'),
      { q: 'what' },
      { accountId: ACCOUNT },
    );
    expect(res.outputs).toEqual({ out: 'first\n\nsecond' });
    expect(retrieval.calls).toEqual([
      {
        datasetIds: node.dataset_ids,
        query: 'what',
        strategy: 'hybrid',
        k: 3,
        score: 0.5,
        source: 'workflow',
      },
    ]);
  });

  it('answers "" for a blank query without searching', async () => {
    const retrieval = new FakeRetrieval(['x']);
    const res = await engineWith({ retrieval }).execute(
      around(node, 'combine_documents'),
      { q: ' ' },
      {
        accountId: ACCOUNT,
      },
    );
    expect(res.outputs).toEqual({ out: '' });
    expect(retrieval.calls).toHaveLength(0);
  });
});

describe('code executor', () => {
  const codeNode = (code: string, outputs: Variable[]): CodeNode => ({
    ...base('C'),
    node_type: 'code',
    code,
    inputs: [ref('q', 'S', 'q'), literal('n', '4', 'int')],
    outputs,
    timeout_ms: 1234,
  });

  it('runs main(params) and keeps only the declared outputs, coerced', async () => {
    const runner = new FakeRunner();
    const node = codeNode(
      'function main(p) { return { doubled: String(p.n * 2), label: p.q + "!", extra: 1 } }',
      [generated('doubled', 'int'), generated('label')],
    );
    const graph = graphOf(
      [
        startNode('S', [{ name: 'q' }]),
        node,
        endNode('E', [
          ref('d', 'C', 'doubled', 'int'),
          ref('l', 'C', 'label'),
          ref('x', 'C', 'extra'),
        ]),
      ],
      [
        ['S', 'C'],
        ['C', 'E'],
      ],
    );
    const res = await engineWith({ code: runner }).execute(
      graph,
      { q: 'hi' },
      { accountId: ACCOUNT },
    );
    expect(res).toMatchObject({ status: 'succeeded', outputs: { d: 8, l: 'hi!', x: null } });
    expect(runner.calls[0]).toEqual({ params: { q: 'hi', n: 4 }, timeoutMs: 1234 });
  });

  it.each([
    ['function main() { return {} }', 'main() did not return the output "doubled"'],
    ['function main() { return [1] }', 'main() must return an object'],
    ['function main() { return { doubled: "abc" } }', 'the output "doubled" (int)'],
  ])('fails clearly: %s', async (code, message) => {
    const res = await engineWith({ code: new FakeRunner() }).execute(
      around(codeNode(code, [generated('doubled', 'int')]), 'doubled', 'int'),
      { q: 'x' },
      { accountId: ACCOUNT },
    );
    expect(res.status).toBe('failed');
    expect(res.error).toContain(message);
  });

  it('has no executor without a runner', async () => {
    const res = await engineWith({}).execute(
      around(codeNode('function main() { return {} }', []), 'x'),
      { q: 'x' },
      { accountId: ACCOUNT },
    );
    expect(res.status).toBe('failed');
  });
});

describe('iteration executor', () => {
  const sub = (template: string) =>
    graphOf(
      [
        startNode('s', [{ name: 'item' }, { name: 'index', type: 'int' }]),
        templateNode('t', template, [ref('item', 's', 'item'), ref('index', 's', 'index', 'int')]),
        endNode('e', [ref('v', 't', 'output')]),
      ],
      [
        ['s', 't'],
        ['t', 'e'],
      ],
    );
  const iteration = (graph: ReturnType<typeof sub>, concurrency: number): IterationNode => ({
    ...base('I'),
    node_type: 'iteration',
    inputs: [ref('items', 'S', 'list', 'array')],
    graph,
    concurrency,
    outputs: [generated('output', 'array')],
  });
  const outer = (node: IterationNode) =>
    graphOf(
      [
        startNode('S', [{ name: 'list', type: 'array' }]),
        node,
        endNode('E', [ref('out', 'I', 'output', 'array')]),
      ],
      [
        ['S', 'I'],
        ['I', 'E'],
      ],
    );

  it('runs the sub-graph per item with {item, index} and collects the end outputs in order', async () => {
    const res = await engineWith({}).execute(
      outer(iteration(sub('{{index}}={{item}}'), 3)),
      { list: ['a', 'b', 'c', 'd', 'e'] },
      { accountId: ACCOUNT },
    );
    expect(res).toMatchObject({
      status: 'succeeded',
      outputs: { out: [{ v: '0=a' }, { v: '1=b' }, { v: '2=c' }, { v: '3=d' }, { v: '4=e' }] },
    });
  });

  it('runs at most `concurrency` items at once', async () => {
    let running = 0;
    let peak = 0;
    const engine = spyTemplates(registryWith({}), async () => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 10));
      running -= 1;
    });
    const res = await engine.execute(
      outer(iteration(sub('{{item}}'), 2)),
      { list: [1, 2, 3, 4, 5, 6] },
      { accountId: ACCOUNT },
    );
    expect(res.status).toBe('succeeded');
    expect(peak).toBe(2);
  });

  it('an empty array gives an empty output', async () => {
    const res = await engineWith({}).execute(
      outer(iteration(sub('{{item}}'), 2)),
      { list: [] },
      {
        accountId: ACCOUNT,
      },
    );
    expect(res.outputs).toEqual({ out: [] });
  });

  it('fails with the first failing item and starts no more', async () => {
    const models = new FakeModels([]);
    // Item 1 is not an int: the sub-graph's start node fails on it.
    const failing = graphOf(
      [
        startNode('s', [{ name: 'item', type: 'int' }]),
        templateNode('t', '{{item}}', [ref('item', 's', 'item', 'int')]),
        endNode('e', [ref('v', 't', 'output')]),
      ],
      [
        ['s', 't'],
        ['t', 'e'],
      ],
    );
    const seen: unknown[] = [];
    const engine = spyTemplates(registryWith({ models }), (inputs) => {
      seen.push(inputs.item);
      return Promise.resolve();
    });
    const res = await engine.execute(
      outer(iteration(failing, 1)),
      { list: [1, 'not a number', 3] },
      { accountId: ACCOUNT },
    );
    expect(res.status).toBe('failed');
    expect(res.error).toContain('item 1: the sub-graph failed');
    expect(seen).toEqual([1]);
  });

  it('stops the sub-runs when the run is stopped', async () => {
    const stop = new AbortController();
    const models = new FakeModels(['hang', 'hang', 'hang']);
    const hanging = graphOf(
      [
        startNode('s', [{ name: 'item' }]),
        { ...llmNode('{{item}}', [ref('item', 's', 'item')]), id: 'l' },
        endNode('e', [ref('v', 'l', 'output')]),
      ],
      [
        ['s', 'l'],
        ['l', 'e'],
      ],
    );
    const run = engineWith({ models }).execute(
      outer(iteration(hanging, 2)),
      { list: ['a', 'b', 'c'] },
      { accountId: ACCOUNT, signal: stop.signal },
    );
    setTimeout(() => stop.abort(), 30);
    expect((await run).status).toBe('stopped');
    // Two started (the limit); the third never did.
    expect(models.calls).toHaveLength(2);
  });
});
