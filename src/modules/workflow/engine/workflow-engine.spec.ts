import type { NodeRunEvent } from './engine.types';
import { IfElseExecutor, StartExecutor, EndExecutor, TemplateTransformExecutor } from './executors';
import {
  codeNode,
  endNode,
  generated,
  graphOf,
  literal,
  ref,
  ScriptedExecutor,
  sleeping,
  startNode,
  templateNode,
  type Script,
} from './testing/graph-builder';
import { ExecutorRegistry, WorkflowEngine } from './workflow-engine';
import type { WorkflowGraph, WorkflowNode } from '../graph/graph.types';

const ACCOUNT = '00000000-0000-4000-8000-000000000001';

function engineWith(scripts: Record<string, Script> = {}) {
  const code = new ScriptedExecutor(scripts);
  const registry = new ExecutorRegistry()
    .register('start', new StartExecutor())
    .register('end', new EndExecutor())
    .register('template_transform', new TemplateTransformExecutor())
    .register('if_else', new IfElseExecutor())
    .register('code', code);
  return { engine: new WorkflowEngine(registry), code };
}

async function runAll(
  engine: WorkflowEngine,
  graph: WorkflowGraph,
  inputs: Record<string, unknown> = {},
  opts: Partial<Parameters<WorkflowEngine['execute']>[2]> = {},
) {
  const events: NodeRunEvent[] = [];
  const t0 = Date.now();
  const result = await engine.execute(graph, inputs, {
    accountId: ACCOUNT,
    ...opts,
    onEvent: (e) => {
      events.push(e);
    },
  });
  const final = (id: string) => events.find((e) => e.node_id === id && e.status !== 'running');
  const index = (id: string, status: string) =>
    events.findIndex((e) => e.node_id === id && e.status === status);
  return { result, events, final, index, elapsed: Date.now() - t0 };
}

/** S -> A, S -> B, A + B -> E (the end joins both branches). */
function diamond(a: Partial<WorkflowNode> = {}, b: Partial<WorkflowNode> = {}): WorkflowGraph {
  return graphOf(
    [
      startNode('S'),
      { ...codeNode('A'), ...a } as WorkflowNode,
      { ...codeNode('B'), ...b } as WorkflowNode,
      endNode('E', [ref('a', 'A', 'r'), ref('b', 'B', 'r')]),
    ],
    [
      ['S', 'A'],
      ['S', 'B'],
      ['A', 'E'],
      ['B', 'E'],
    ],
  );
}

describe('WorkflowEngine', () => {
  describe('scheduling', () => {
    it('runs two 300 ms branches in parallel (about 300 ms, not 600) and the join waits for both', async () => {
      const { engine } = engineWith({
        A: sleeping(300, { r: 'from A' }),
        B: sleeping(300, { r: 'from B' }),
      });
      const { result, elapsed, index } = await runAll(engine, diamond());
      expect(result).toMatchObject({
        status: 'succeeded',
        outputs: { a: 'from A', b: 'from B' },
      });
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(500);
      expect(index('E', 'running')).toBeGreaterThan(index('A', 'succeeded'));
      expect(index('E', 'running')).toBeGreaterThan(index('B', 'succeeded'));
    });

    it('a join waits for its slower predecessor', async () => {
      const { engine } = engineWith({ A: sleeping(50), B: sleeping(250) });
      const { events, index } = await runAll(engine, diamond());
      const end = events.find((e) => e.node_id === 'E' && e.status === 'running')!;
      const b = events.find((e) => e.node_id === 'B' && e.status === 'succeeded')!;
      expect(end.started_at).toBeGreaterThanOrEqual(b.finished_at);
      expect(index('E', 'running')).toBeGreaterThan(index('B', 'succeeded'));
    });

    it('honours the concurrency limit', async () => {
      const { engine } = engineWith({ A: sleeping(150), B: sleeping(150) });
      const { result, elapsed } = await runAll(engine, diamond(), {}, { concurrency: 1 });
      expect(result.status).toBe('succeeded');
      expect(elapsed).toBeGreaterThanOrEqual(295);
    });

    it('emits running then one final event per node, with numeric latency', async () => {
      const { engine } = engineWith({ A: sleeping(20) });
      const { events } = await runAll(engine, diamond());
      for (const id of ['S', 'A', 'B', 'E']) {
        const mine = events.filter((e) => e.node_id === id).map((e) => e.status);
        expect(mine).toEqual(['running', 'succeeded']);
      }
      const a = events.find((e) => e.node_id === 'A' && e.status === 'succeeded')!;
      expect(a.latency).toBeGreaterThanOrEqual(15);
      expect(a.finished_at - a.started_at).toBe(a.latency);
      expect(a).toMatchObject({ node_type: 'code', title: 'A', error: '', retries: 0 });
    });

    it('awaits onEvent before successors start (a store always has the predecessors)', async () => {
      const { engine } = engineWith();
      const stored: string[] = [];
      const result = await engine.execute(
        diamond(),
        {},
        {
          accountId: ACCOUNT,
          onEvent: async (e) => {
            if (e.status !== 'running') await new Promise((r) => setTimeout(r, 30));
            stored.push(`${e.node_id}:${e.status}`);
          },
        },
      );
      expect(result.status).toBe('succeeded');
      const at = (x: string) => stored.indexOf(x);
      expect(at('A:running')).toBeGreaterThan(at('S:succeeded'));
      expect(at('E:running')).toBeGreaterThan(at('A:succeeded'));
      expect(at('E:running')).toBeGreaterThan(at('B:succeeded'));
    });

    it('an onEvent that throws fails the run', async () => {
      const { engine } = engineWith();
      const result = await engine.execute(
        diamond(),
        {},
        {
          accountId: ACCOUNT,
          onEvent: (e) => {
            if (e.node_id === 'A' && e.status === 'succeeded') throw new Error('store is down');
          },
        },
      );
      expect(result).toMatchObject({ status: 'failed', error: 'store is down' });
    });

    it('run() streams the same events as an async iterable', async () => {
      const { engine } = engineWith({ A: sleeping(10) });
      const run = engine.run(diamond(), {}, { accountId: ACCOUNT });
      const seen: string[] = [];
      for await (const e of run.events) seen.push(`${e.node_id}:${e.status}`);
      expect((await run.result).status).toBe('succeeded');
      expect(seen).toHaveLength(8);
      expect(seen[0]).toBe('S:running');
      expect(seen.at(-1)).toBe('E:succeeded');
    });
  });

  describe('if_else', () => {
    // S -> I; I -yes-> A -> J; I -else-> B -> C -> J; J -> E. J joins both branches.
    function branching(): WorkflowGraph {
      return graphOf(
        [
          startNode('S', [{ name: 'x', type: 'int' }]),
          {
            id: 'I',
            node_type: 'if_else',
            title: 'I',
            description: '',
            position: { x: 0, y: 0 },
            inputs: [ref('x', 'S', 'x', 'int')],
            branches: [
              {
                id: 'yes',
                logical_operator: 'and',
                conditions: [{ variable: 'x', operator: 'gt', value: 3 }],
              },
            ],
            outputs: [],
          },
          codeNode('A', [], [generated('r')]),
          codeNode('B', [], [generated('r')]),
          codeNode('C', [ref('b', 'B', 'r')], [generated('r')]),
          templateNode('J', 'a={{ a }} c={{ c }}', [ref('a', 'A', 'r'), ref('c', 'C', 'r')]),
          endNode('E', [ref('out', 'J', 'output')]),
        ],
        [
          ['S', 'I'],
          ['I', 'A', 'yes'],
          ['I', 'B', 'else'],
          ['A', 'J'],
          ['B', 'C'],
          ['C', 'J'],
          ['J', 'E'],
        ],
      );
    }

    it('takes the matching branch, skips the other and its descendants, and still runs the join', async () => {
      const { engine, code } = engineWith({
        A: () => Promise.resolve({ r: 'A' }),
        C: () => Promise.resolve({ r: 'C' }),
      });
      const { result, final } = await runAll(engine, branching(), { x: '5' });
      expect(result).toMatchObject({ status: 'succeeded', outputs: { out: 'a=A c=' } });
      expect(final('I')).toMatchObject({ status: 'succeeded', handle: 'yes' });
      expect(final('B')?.status).toBe('skipped');
      expect(final('C')?.status).toBe('skipped');
      expect(final('J')?.status).toBe('succeeded');
      expect(code.calls.has('B')).toBe(false);
      expect(code.calls.has('C')).toBe(false);
    });

    it('takes else when no branch holds', async () => {
      const { engine } = engineWith({
        A: () => Promise.resolve({ r: 'A' }),
        C: () => Promise.resolve({ r: 'C' }),
      });
      const { result, final } = await runAll(engine, branching(), { x: 1 });
      expect(result.outputs).toEqual({ out: 'a= c=C' });
      expect(final('I')?.handle).toBe('else');
      expect(final('A')?.status).toBe('skipped');
    });
  });

  describe('errors', () => {
    const failing: Script = () => Promise.reject(new Error('boom'));

    it('fails the run by default, naming the node', async () => {
      const { engine } = engineWith({ A: failing });
      const { result, final } = await runAll(engine, diamond());
      expect(result).toMatchObject({ status: 'failed', outputs: {} });
      expect(result.error).toBe('Node "A" (A) failed: boom');
      expect(final('A')).toMatchObject({ status: 'failed', error: 'boom' });
      expect(final('E')).toBeUndefined();
    });

    it('error_branch: takes the error edge with {error} outputs and skips the normal one', async () => {
      const graph = graphOf(
        [
          startNode('S'),
          codeNode('A', [], [generated('r')], { error_strategy: 'error_branch' }),
          codeNode('N', [ref('a', 'A', 'r')]),
          templateNode('H', 'handled: {{ e }}', [ref('e', 'A', 'error')]),
          endNode('E', [ref('h', 'H', 'output'), ref('n', 'N', 'r')]),
        ],
        [
          ['S', 'A'],
          ['A', 'N'],
          ['A', 'H', 'error'],
          ['N', 'E'],
          ['H', 'E'],
        ],
      );
      const { engine, code } = engineWith({ A: failing });
      const { result, final } = await runAll(engine, graph);
      expect(result).toMatchObject({
        status: 'succeeded',
        outputs: { h: 'handled: boom', n: null },
      });
      expect(final('A')).toMatchObject({
        status: 'failed',
        handle: 'error',
        handled_by: 'error_branch',
        outputs: { error: 'boom' },
      });
      expect(final('N')?.status).toBe('skipped');
      expect(code.calls.has('N')).toBe(false);
    });

    it('error_branch: a success leaves the error edge dead', async () => {
      const graph = graphOf(
        [
          startNode('S'),
          codeNode('A', [], [generated('r')], { error_strategy: 'error_branch' }),
          codeNode('H'),
          endNode('E', [ref('a', 'A', 'r')]),
        ],
        [
          ['S', 'A'],
          ['A', 'E'],
          ['A', 'H', 'error'],
          ['H', 'E'],
        ],
      );
      const { engine } = engineWith({ A: () => Promise.resolve({ r: 'ok' }) });
      const { result, final } = await runAll(engine, graph);
      expect(result.outputs).toEqual({ a: 'ok' });
      expect(final('H')?.status).toBe('skipped');
    });

    it('default_value: the node fails into its default outputs and the run goes on', async () => {
      const { engine } = engineWith({ A: failing });
      const graph = diamond({
        error_strategy: 'default_value',
        default_outputs: { r: 'fallback' },
      });
      const { result, final } = await runAll(engine, graph);
      expect(result).toMatchObject({ status: 'succeeded', outputs: { a: 'fallback' } });
      expect(final('A')).toMatchObject({
        status: 'failed',
        error: 'boom',
        handled_by: 'default_value',
        outputs: { r: 'fallback' },
      });
    });

    it('retries with backoff and counts them', async () => {
      let n = 0;
      const { engine, code } = engineWith({
        A: () =>
          ++n < 3 ? Promise.reject(new Error(`try ${n}`)) : Promise.resolve({ r: 'third' }),
      });
      const graph = diamond({ retry: { max_retries: 3, backoff_ms: 20 } });
      const { result, final, elapsed } = await runAll(engine, graph);
      expect(result.outputs.a).toBe('third');
      expect(code.calls.get('A')).toBe(3);
      expect(final('A')).toMatchObject({ status: 'succeeded', retries: 2 });
      expect(elapsed).toBeGreaterThanOrEqual(20 + 40 - 5);
    });

    it('gives up after max_retries (opts default) with the last error', async () => {
      let n = 0;
      const { engine, code } = engineWith({ A: () => Promise.reject(new Error(`try ${++n}`)) });
      const { result, final } = await runAll(
        engine,
        diamond(),
        {},
        {
          retry: { max_retries: 2, backoff_ms: 1 },
        },
      );
      expect(code.calls.get('A')).toBe(3);
      expect(final('A')).toMatchObject({ status: 'failed', retries: 2, error: 'try 3' });
      expect(result.error).toMatch(/try 3/);
    });

    it('a node timeout stops the node even if its executor ignores the signal', async () => {
      let signal: AbortSignal | undefined;
      const { engine } = engineWith({
        A: (_i, ctx) => {
          signal = ctx.signal;
          return sleeping(2000)(_i, ctx);
        },
      });
      const { result, final, elapsed } = await runAll(engine, diamond({ timeout_ms: 100 }));
      expect(elapsed).toBeLessThan(1000);
      expect(result.status).toBe('failed');
      expect(final('A')?.error).toBe('timed out after 100 ms');
      expect(signal?.aborted).toBe(true);
    });

    it('a missing required start input fails the start node', async () => {
      const { engine } = engineWith();
      const graph = graphOf(
        [startNode('S', [{ name: 'q' }]), endNode('E', [ref('q', 'S', 'q')])],
        [['S', 'E']],
      );
      const { result } = await runAll(engine, graph, {});
      expect(result.error).toMatch(/the input "q" is required/);
    });

    it('a node type without an executor fails the run', async () => {
      const engine = new WorkflowEngine(
        new ExecutorRegistry()
          .register('start', new StartExecutor())
          .register('end', new EndExecutor()),
      );
      const { result } = await runAll(engine, diamond());
      expect(result.error).toMatch(/no executor for node type "code"/);
    });
  });

  describe('run limits and stop', () => {
    it('wall time: the run ends with timeout and aborts its running nodes', async () => {
      let signal: AbortSignal | undefined;
      const { engine } = engineWith({
        A: (i, ctx) => {
          signal = ctx.signal;
          return sleeping(2000)(i, ctx);
        },
      });
      const { result, final, elapsed } = await runAll(engine, diamond(), {}, { maxRunMs: 150 });
      expect(result.status).toBe('timeout');
      expect(result.error).toMatch(/150 ms/);
      expect(elapsed).toBeLessThan(1000);
      expect(signal?.aborted).toBe(true);
      expect(final('A')?.status).toBe('failed');
    });

    it('max steps: the run ends with timeout', async () => {
      const { engine, code } = engineWith();
      const { result } = await runAll(engine, diamond(), {}, { maxSteps: 2, concurrency: 1 });
      expect(result).toMatchObject({ status: 'timeout', steps: 2 });
      expect(result.error).toMatch(/2 steps/);
      expect(code.calls.size).toBe(1);
    });

    it('an abort signal stops the run and its running nodes', async () => {
      const ctl = new AbortController();
      const seen: AbortSignal[] = [];
      const hold: Script = (i, ctx) => {
        seen.push(ctx.signal);
        return sleeping(2000)(i, ctx);
      };
      const { engine } = engineWith({ A: hold, B: hold });
      setTimeout(() => ctl.abort(), 100);
      const { result, final, elapsed } = await runAll(
        engine,
        diamond(),
        {},
        { signal: ctl.signal },
      );
      expect(result).toMatchObject({ status: 'stopped', error: 'The run was stopped' });
      expect(elapsed).toBeLessThan(1000);
      expect(seen).toHaveLength(2);
      expect(seen.every((s) => s.aborted)).toBe(true);
      expect(final('A')).toMatchObject({ status: 'failed', error: 'The run was stopped' });
      expect(final('E')).toBeUndefined();
    });

    it('a failing node aborts its running siblings', async () => {
      let sibling: AbortSignal | undefined;
      const { engine } = engineWith({
        A: () => Promise.reject(new Error('boom')),
        B: (i, ctx) => {
          sibling = ctx.signal;
          return sleeping(2000)(i, ctx);
        },
      });
      const { result, elapsed } = await runAll(engine, diamond());
      expect(result.status).toBe('failed');
      expect(sibling?.aborted).toBe(true);
      expect(elapsed).toBeLessThan(1000);
    });
  });

  describe('resume', () => {
    it('does not re-run completed nodes and feeds their stored outputs on', async () => {
      const first = engineWith({ A: () => Promise.resolve({ r: 'stored A' }) });
      const graph = diamond();
      const { events } = await runAll(first.engine, graph);
      // As if the process died after S and A finished: only their final events were stored.
      const completed = new Map(
        events
          .filter((e) => (e.node_id === 'S' || e.node_id === 'A') && e.status !== 'running')
          .map((e) => [e.node_id, e]),
      );
      const second = engineWith({
        A: () => Promise.resolve({ r: 'A ran again' }),
        B: () => Promise.resolve({ r: 'B' }),
      });
      const resumed = await runAll(second.engine, graph, {}, { completed });
      expect(resumed.result).toMatchObject({
        status: 'succeeded',
        outputs: { a: 'stored A', b: 'B' },
        steps: 2,
      });
      expect(second.code.calls.has('A')).toBe(false);
      expect(resumed.events.map((e) => e.node_id)).not.toContain('A');
      expect(resumed.events.map((e) => e.node_id)).not.toContain('S');
    });

    it('restores the branch an if_else took and the error branch of a handled failure', async () => {
      const graph = graphOf(
        [
          startNode('S'),
          codeNode('A', [], [generated('r')], { error_strategy: 'error_branch' }),
          codeNode('N'),
          codeNode('H', [ref('e', 'A', 'error')]),
          endNode('E', [ref('h', 'H', 'r')]),
        ],
        [
          ['S', 'A'],
          ['A', 'N'],
          ['A', 'H', 'error'],
          ['N', 'E'],
          ['H', 'E'],
        ],
      );
      const first = engineWith({ A: () => Promise.reject(new Error('boom')) });
      const { events } = await runAll(first.engine, graph);
      const completed = new Map(
        events
          .filter((e) => ['S', 'A'].includes(e.node_id) && e.status !== 'running')
          .map((e) => [e.node_id, e]),
      );
      const second = engineWith({ A: () => Promise.resolve({ r: 'fine now' }) });
      const { result, final } = await runAll(second.engine, graph, {}, { completed });
      expect(second.code.calls.has('A')).toBe(false);
      expect(final('N')?.status).toBe('skipped');
      expect(result.outputs).toEqual({ h: JSON.stringify({ e: 'boom' }) });
    });

    it('re-runs a node whose stored result failed the run', async () => {
      const first = engineWith({ A: () => Promise.reject(new Error('boom')) });
      const graph = diamond();
      const { events } = await runAll(first.engine, graph);
      const completed = new Map(
        events.filter((e) => e.status !== 'running').map((e) => [e.node_id, e]),
      );
      const second = engineWith({ A: () => Promise.resolve({ r: 'ok' }) });
      const { result } = await runAll(second.engine, graph, {}, { completed });
      expect(second.code.calls.get('A')).toBe(1);
      expect(result.status).toBe('succeeded');
    });
  });

  describe('variables', () => {
    it('coerces start inputs and refs to their types; optional inputs get type defaults', async () => {
      const { engine } = engineWith({
        A: (inputs) => Promise.resolve({ r: inputs }),
      });
      const graph = graphOf(
        [
          startNode('S', [
            { name: 'n', type: 'int' },
            { name: 'f', type: 'float', required: false },
            { name: 'b', type: 'boolean' },
            { name: 'o', type: 'string', required: false },
          ]),
          codeNode(
            'A',
            [
              ref('n', 'S', 'n', 'int'),
              ref('f', 'S', 'f', 'float'),
              ref('b', 'S', 'b', 'boolean'),
              ref('o', 'S', 'o'),
              literal('l', '[1,2]', 'array'),
              ref('s', 'S', 'n'),
            ],
            [generated('r', 'object')],
          ),
          endNode('E', [ref('r', 'A', 'r', 'object')]),
        ],
        [
          ['S', 'A'],
          ['A', 'E'],
        ],
      );
      const { result } = await runAll(engine, graph, { n: '42', b: 'true' });
      expect(result.outputs.r).toEqual({ n: 42, f: 0, b: true, o: '', l: [1, 2], s: '42' });
    });

    it('an input that cannot be coerced fails the node', async () => {
      const { engine } = engineWith();
      const graph = graphOf(
        [startNode('S', [{ name: 'n', type: 'int' }]), endNode('E', [ref('n', 'S', 'n', 'int')])],
        [['S', 'E']],
      );
      const { result } = await runAll(engine, graph, { n: 'abc' });
      expect(result.error).toMatch(/"n" \(int\): "abc" is not a number/);
    });

    it('template_transform renders Jinja with its inputs', async () => {
      const { engine } = engineWith();
      const graph = graphOf(
        [
          startNode('S', [{ name: 'name' }, { name: 'n', type: 'int' }]),
          templateNode('T', 'Hi {{ name | upper }}{% for i in range(n) %}!{% endfor %}', [
            ref('name', 'S', 'name'),
            ref('n', 'S', 'n', 'int'),
          ]),
          endNode('E', [ref('text', 'T', 'output'), literal('fixed', 7, 'int')]),
        ],
        [
          ['S', 'T'],
          ['T', 'E'],
        ],
      );
      const { result } = await runAll(engine, graph, { name: 'ada', n: 3 });
      expect(result).toMatchObject({
        status: 'succeeded',
        outputs: { text: 'Hi ADA!!!', fixed: 7 },
      });
    });
  });

  describe('sub-graphs', () => {
    it('an executor can run a sub-graph through the engine (what iteration needs)', async () => {
      const sub = graphOf(
        [
          startNode('s', [{ name: 'item' }]),
          templateNode('t', '<{{ item }}>', [ref('item', 's', 'item')]),
          endNode('e', [ref('o', 't', 'output')]),
        ],
        [
          ['s', 't'],
          ['t', 'e'],
        ],
      );
      const { engine } = engineWith({
        A: async (_i, ctx) => {
          const out = await Promise.all(['x', 'y'].map((item) => ctx.runGraph(sub, { item })));
          return { r: out.map((o) => o.outputs.o) };
        },
      });
      const graph = diamond({ outputs: [generated('r', 'array')] });
      const { result } = await runAll(engine, graph);
      expect(result.outputs.a).toBe(JSON.stringify(['<x>', '<y>']));
    });
  });

  describe('run-wide budget (sub-runs included)', () => {
    const sub = graphOf(
      [startNode('s', [{ name: 'item' }]), codeNode('w'), endNode('e', [ref('o', 'w', 'r')])],
      [
        ['s', 'w'],
        ['w', 'e'],
      ],
    );
    /** A node that runs the sub-graph for each of `n` items, `parallel` at a time, nested `depth` deep. */
    const fanOut =
      (n: number, parallel: number): Script =>
      async (_i, ctx) => {
        const items = Array.from({ length: n }, (_, i) => i);
        const out: unknown[] = [];
        for (let i = 0; i < items.length; i += parallel) {
          const batch = await Promise.all(
            items.slice(i, i + parallel).map((item) => ctx.runGraph(sub, { item })),
          );
          for (const r of batch) {
            if (r.status !== 'succeeded') throw new Error(r.error);
            out.push(r.outputs.o);
          }
        }
        return { r: out.length };
      };

    it('ends the run when it and its sub-runs together take more than maxRunSteps', async () => {
      const { engine } = engineWith({ A: fanOut(100, 10), w: sleeping(1, { r: 'ok' }) });
      const { result } = await runAll(engine, diamond(), {}, { maxRunSteps: 120 });
      expect(result.status).toBe('failed');
      expect(result.error).toMatch(/more than 120 steps, its iterations included/);
    });

    it('runs at most maxRunActive nodes at once across sub-runs, and never starves them', async () => {
      let now = 0;
      let peak = 0;
      const { engine } = engineWith({
        A: fanOut(12, 12),
        B: fanOut(12, 12),
        w: async () => {
          peak = Math.max(peak, ++now);
          await new Promise((r) => setTimeout(r, 20));
          now--;
          return { r: 'ok' };
        },
      });
      const { result } = await runAll(engine, diamond(), {}, { maxRunActive: 3 });
      expect(result.status).toBe('succeeded');
      expect(result.outputs).toEqual({ a: '12', b: '12' });
      expect(peak).toBe(3);
    });
  });
});
