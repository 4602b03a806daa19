import { OutboundHttpClient } from '@app/http';
import type { WorkflowGraph, WorkflowNode } from 'src/modules/workflow/graph/graph.types';
import {
  ExecutorRegistry,
  registerCoreExecutors,
  WorkflowEngine,
  type NodeExecutionContext,
} from 'src/modules/workflow/engine';
import {
  endNode,
  graphOf,
  ref,
  startNode,
  templateNode,
} from 'src/modules/workflow/engine/testing/graph-builder';

/**
 * Issue 11's engine benchmark, in process (embedded mode: no queue, no database): the engine's
 * own cost per node on a 50-node chain of trivial template nodes, against calling the same node
 * executors directly in sequence; and start -> end runs per second, against calling the start
 * and end executors directly.
 */
const CHAIN = 50;
const CHAIN_RUNS = Number(process.env.BENCH_CHAIN_RUNS ?? 300);
const EMPTY_MS = Number(process.env.BENCH_EMPTY_MS ?? 2000);
const WARMUP = 50;
const TARGET_OVERHEAD_MS_PER_NODE = 1;
const TARGET_EMPTY_RUNS_PER_S = 200;
const ACCOUNT = '00000000-0000-4000-8000-000000000001';

function chainGraph(): WorkflowGraph {
  const nodes: WorkflowNode[] = [startNode('S', [{ name: 'x' }])];
  const links: Array<[string, string]> = [];
  let prev: [string, string] = ['S', 'x'];
  for (let i = 1; i <= CHAIN; i++) {
    const id = `T${i}`;
    nodes.push(templateNode(id, '{{ v }}', [ref('v', prev[0], prev[1])]));
    links.push([prev[0], id]);
    prev = [id, 'output'];
  }
  nodes.push(endNode('E', [ref('out', prev[0], 'output')]));
  links.push([prev[0], 'E']);
  return graphOf(nodes, links);
}

const emptyGraph = (): WorkflowGraph =>
  graphOf([startNode('S', [{ name: 'x' }]), endNode('E', [ref('out', 'S', 'x')])], [['S', 'E']]);

async function timeIt(n: number, fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6 / n;
}

async function perSecond(ms: number, fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const end = Date.now() + ms;
  let n = 0;
  const t0 = Date.now();
  while (Date.now() < end) {
    await fn();
    n++;
  }
  return (n * 1000) / (Date.now() - t0);
}

export async function run(): Promise<void> {
  const http = new OutboundHttpClient({ timeoutMs: 1000, maxResponseBytes: 1000, maxRetries: 0 });
  const registry = registerCoreExecutors(new ExecutorRegistry(), { http });
  const engine = new WorkflowEngine(registry);
  const events: unknown[] = [];
  // A real run hands every event to a store; keep the reference so none is optimised away.
  const opts = {
    accountId: ACCOUNT,
    onEvent: (e: unknown) => {
      events.push(e);
      if (events.length > 1000) events.length = 0;
    },
  };
  const ctx = {
    signal: new AbortController().signal,
    accountId: ACCOUNT,
    runId: 'bench',
    runInputs: { x: 'hello' },
    timeoutMs: 60_000,
    attempt: 0,
    runGraph: () => Promise.reject(new Error('unused')),
  } satisfies NodeExecutionContext;

  // 50-node chain: engine vs the executors called one after another with the same inputs.
  const chain = chainGraph();
  const check = await engine.execute(chain, { x: 'hello' }, opts);
  if (check.status !== 'succeeded' || check.outputs.out !== 'hello')
    throw new Error(`chain run failed: ${JSON.stringify(check)}`);
  const exec = (n: WorkflowNode) => registry.get(n.node_type)!;
  const direct = async () => {
    let v: unknown = (await exec(chain.nodes[0]).run(chain.nodes[0], {}, ctx)).outputs.x;
    for (let i = 1; i <= CHAIN; i++)
      v = (await exec(chain.nodes[i]).run(chain.nodes[i], { v }, ctx)).outputs.output;
    await exec(chain.nodes[CHAIN + 1]).run(chain.nodes[CHAIN + 1], { out: v }, ctx);
  };
  const directMs = await timeIt(CHAIN_RUNS, direct);
  const engineMs = await timeIt(CHAIN_RUNS, () => engine.execute(chain, { x: 'hello' }, opts));
  const nodes = CHAIN + 2;
  const overhead = (engineMs - directMs) / nodes;
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  console.log(`chain of ${CHAIN} template nodes (+ start, end), ${CHAIN_RUNS} runs each`);
  console.log(
    `direct ${directMs.toFixed(3)} ms/run, engine ${engineMs.toFixed(3)} ms/run, ratio engine/direct ${(engineMs / directMs).toFixed(2)}`,
  );
  console.log(
    `engine overhead per node ${overhead.toFixed(4)} ms (target < ${TARGET_OVERHEAD_MS_PER_NODE}: ${verdict(overhead < TARGET_OVERHEAD_MS_PER_NODE)})`,
  );

  // start -> end: runs per second, engine vs the two executors called directly.
  const empty = emptyGraph();
  const directEmpty = await perSecond(EMPTY_MS, async () => {
    const s = await exec(empty.nodes[0]).run(empty.nodes[0], {}, ctx);
    await exec(empty.nodes[1]).run(empty.nodes[1], { out: s.outputs.x }, ctx);
  });
  const engineEmpty = await perSecond(EMPTY_MS, () => engine.execute(empty, { x: 'hi' }, opts));
  console.log(
    `empty workflow (start -> end): engine ${engineEmpty.toFixed(0)} runs/s, direct ${directEmpty.toFixed(0)} calls/s, ratio engine/direct ${(engineEmpty / directEmpty).toFixed(3)}`,
  );
  console.log(
    `empty runs/s ${engineEmpty.toFixed(0)} (target >= ${TARGET_EMPTY_RUNS_PER_S}: ${verdict(engineEmpty >= TARGET_EMPTY_RUNS_PER_S)})`,
  );
  await http.close();
}
