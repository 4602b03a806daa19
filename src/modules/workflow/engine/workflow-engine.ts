import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ERROR_HANDLE,
  type NodeType,
  type Variable,
  type WorkflowEdge,
  type WorkflowGraph,
  type WorkflowNode,
} from '../graph/graph.types';
import type {
  EngineRunOptions,
  RunBudget,
  NodeExecution,
  NodeExecutionContext,
  NodeExecutor,
  NodeRunEvent,
  RunResult,
  RunStatus,
} from './engine.types';
import { coerce, resolveVariables, typeDefault } from './variables';

export const ENGINE_DEFAULTS = {
  concurrency: 4,
  maxSteps: 500,
  maxRunSteps: 10_000,
  maxRunActive: 16,
  maxRunMs: 600_000,
  nodeTimeoutMs: 60_000,
  backoffMs: 500,
} as const;

/** The executors per node type; a node whose type has none fails when it runs. */
export class ExecutorRegistry {
  private readonly map = new Map<NodeType, NodeExecutor>();

  register<T extends NodeType>(
    type: T,
    executor: NodeExecutor<Extract<WorkflowNode, { node_type: T }>>,
  ): this {
    this.map.set(type, executor);
    return this;
  }

  get(type: NodeType): NodeExecutor | undefined {
    return this.map.get(type);
  }
}

/** A started run: its events as they happen, and its result. */
export interface WorkflowRun {
  events: AsyncIterable<NodeRunEvent>;
  result: Promise<RunResult>;
}

class NodeTimeoutError extends Error {}

const errorMessage = (e: unknown): string =>
  e instanceof Error ? e.message : typeof e === 'string' ? e : JSON.stringify(e);

/** How a finished node leaves: the handle its out-edges must carry (undefined: plain edges). */
interface Exit {
  handle?: string;
}

/**
 * Runs a validated workflow graph. A node runs once every in-edge is resolved and at least one
 * is live; an edge is live when its source finished and took the edge's handle (plain edges:
 * any success; `error` edges: a failure under `error_strategy: error_branch`). A node whose
 * in-edges are all dead is skipped, which kills its own out-edges: skipping spreads to the nodes
 * reachable only through skipped ones, while a join with one live predecessor still runs.
 */
export class WorkflowEngine {
  constructor(private readonly executors: ExecutorRegistry) {}

  /** Starts a run; iterate `events` (or ignore them) and await `result`. */
  run(graph: WorkflowGraph, inputs: Record<string, unknown>, opts: EngineRunOptions): WorkflowRun {
    const queue: NodeRunEvent[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    const result = this.execute(graph, inputs, {
      ...opts,
      onEvent: async (e) => {
        queue.push(e);
        wake?.();
        await opts.onEvent?.(e);
      },
    }).finally(() => {
      done = true;
      wake?.();
    });
    async function* events(): AsyncGenerator<NodeRunEvent> {
      for (;;) {
        const next = queue.shift();
        if (next) yield next;
        else if (done) return;
        else await new Promise<void>((r) => (wake = r));
      }
    }
    return { events: events(), result };
  }

  /** Runs to the end; never rejects (every failure is a `failed` result). */
  async execute(
    graph: WorkflowGraph,
    runInputs: Record<string, unknown>,
    opts: EngineRunOptions,
  ): Promise<RunResult> {
    const t0 = Date.now();
    const runId = opts.runId ?? randomUUID();
    const concurrency = Math.max(1, opts.concurrency ?? ENGINE_DEFAULTS.concurrency);
    const maxSteps = opts.maxSteps ?? ENGINE_DEFAULTS.maxSteps;
    const maxRunMs = opts.maxRunMs ?? ENGINE_DEFAULTS.maxRunMs;
    // Iterations multiply: 10 items of 10 items of ... Steps and running nodes are counted for
    // the whole run, sub-runs included, so one run's fan-out stays bounded.
    const budget: RunBudget = opts.budget ?? {
      stepsLeft: opts.maxRunSteps ?? ENGINE_DEFAULTS.maxRunSteps,
      maxSteps: opts.maxRunSteps ?? ENGINE_DEFAULTS.maxRunSteps,
      active: 0,
      maxActive: Math.max(1, opts.maxRunActive ?? ENGINE_DEFAULTS.maxRunActive),
      waiting: new Set(),
    };
    const runOpts: EngineRunOptions = { ...opts, budget };

    const ctl = new AbortController();
    let stop: { status: Exclude<RunStatus, 'succeeded'>; error: string } | undefined;
    /** Set once the pump exists: a run waiting for a slot of the budget ends when halted. */
    const wake: { onHalt?: () => void } = {};
    const halt = (status: Exclude<RunStatus, 'succeeded'>, error: string) => {
      if (stop) return;
      stop = { status, error };
      ctl.abort(new Error(error));
      wake.onHalt?.();
    };
    const onStop = () => halt('stopped', 'The run was stopped');
    if (opts.signal?.aborted) onStop();
    else opts.signal?.addEventListener('abort', onStop, { once: true });
    const wallTimer = setTimeout(
      () => halt('timeout', `The run took longer than its ${maxRunMs} ms limit`),
      maxRunMs,
    );

    const nodes = new Map(graph.nodes.map((n) => [n.id, n]));
    const inEdges = new Map<string, WorkflowEdge[]>(graph.nodes.map((n) => [n.id, []]));
    const outEdges = new Map<string, WorkflowEdge[]>(graph.nodes.map((n) => [n.id, []]));
    for (const e of graph.edges) {
      inEdges.get(e.target)?.push(e);
      outEdges.get(e.source)?.push(e);
    }
    const unresolved = new Map<string, number>(
      graph.nodes.map((n) => [n.id, inEdges.get(n.id)!.length]),
    );
    const live = new Set<WorkflowEdge>();
    const outputs = new Map<string, Record<string, unknown>>();
    const ready: WorkflowNode[] = [];
    let running = 0;
    let steps = 0;
    let finish!: () => void;
    const finished = new Promise<void>((r) => (finish = r));

    const emit = async (e: NodeRunEvent) => {
      if (opts.onEvent) await opts.onEvent(e);
    };

    /** Resolves the out-edges of a finished (exit) or skipped (null) node. */
    const settle = async (id: string, exit: Exit | null): Promise<void> => {
      for (const e of outEdges.get(id)!) {
        const handle = e.source_handle ?? '';
        const isLive =
          exit !== null &&
          (exit.handle !== undefined ? handle === exit.handle : handle !== ERROR_HANDLE);
        if (isLive) live.add(e);
        const left = unresolved.get(e.target)! - 1;
        unresolved.set(e.target, left);
        if (left === 0) await arrive(nodes.get(e.target)!);
      }
    };

    /** All in-edges of `node` are resolved: skip it, restore it, or queue it. */
    const arrive = async (node: WorkflowNode): Promise<void> => {
      const ins = inEdges.get(node.id)!;
      if (ins.length > 0 && !ins.some((e) => live.has(e))) {
        const now = Date.now();
        await emit(this.event(node, 'skipped', { started_at: now, finished_at: now }));
        return settle(node.id, null);
      }
      const prior = opts.completed?.get(node.id);
      if (prior && this.restorable(node, prior)) {
        outputs.set(node.id, prior.outputs);
        return settle(node.id, { handle: prior.handle });
      }
      ready.push(node);
    };

    const pump = () => {
      budget.waiting.delete(pump);
      while (!stop && ready.length > 0 && running < concurrency) {
        if (steps >= maxSteps) {
          halt('timeout', `The run took more than its ${maxSteps} steps limit`);
          break;
        }
        if (budget.stepsLeft <= 0) {
          halt(
            'timeout',
            `The run took more than ${budget.maxSteps} steps, its iterations included`,
          );
          break;
        }
        if (budget.active >= budget.maxActive) {
          budget.waiting.add(pump);
          break;
        }
        const node = ready.shift()!;
        steps++;
        budget.stepsLeft--;
        running++;
        budget.active++;
        // A node that runs sub-graphs (iteration) gives its slot back while they run: it only
        // waits for them, and holding it could starve them.
        let holds = true;
        const releaseSlot = () => {
          if (!holds) return;
          holds = false;
          budget.active--;
          for (const waiter of [...budget.waiting]) waiter();
        };
        void this.runNode(node, runInputs, runOpts, {
          releaseSlot,
          runId,
          signal: ctl.signal,
          stopped: () => stop?.error,
          outputs,
          emit,
          settle,
          halt,
        })
          .catch((e: unknown) => halt('failed', errorMessage(e)))
          .finally(() => {
            running--;
            releaseSlot();
            pump();
          });
      }
      if (running === 0 && (stop || ready.length === 0)) finish();
    };
    wake.onHalt = () => {
      if (budget.waiting.has(pump)) pump();
    };

    try {
      for (const n of graph.nodes) if (inEdges.get(n.id)!.length === 0) await arrive(n);
    } catch (e) {
      halt('failed', errorMessage(e));
    }
    pump();
    await finished;
    budget.waiting.delete(pump);
    clearTimeout(wallTimer);
    opts.signal?.removeEventListener('abort', onStop);

    const latency = Date.now() - t0;
    if (stop) return { status: stop.status, outputs: {}, error: stop.error, steps, latency };
    const end = graph.nodes.find((n) => n.node_type === 'end');
    const endOutputs = end && outputs.get(end.id);
    if (!endOutputs)
      return {
        status: 'failed',
        outputs: {},
        error: 'The end node was not reached',
        steps,
        latency,
      };
    return { status: 'succeeded', outputs: endOutputs, error: '', steps, latency };
  }

  /** A stored result stands in for a run of the node unless it was a failure that failed the run. */
  private restorable(node: WorkflowNode, prior: NodeRunEvent): boolean {
    if (prior.status === 'succeeded') return true;
    return (
      prior.status === 'failed' &&
      prior.handled_by !== undefined &&
      prior.handled_by === node.error_strategy
    );
  }

  private event(
    node: WorkflowNode,
    status: NodeRunEvent['status'],
    fields: Partial<NodeRunEvent> & Pick<NodeRunEvent, 'started_at'>,
  ): NodeRunEvent {
    return {
      id: randomUUID(),
      node_id: node.id,
      node_type: node.node_type,
      title: node.title,
      status,
      inputs: {},
      outputs: {},
      latency: 0,
      error: '',
      finished_at: 0,
      retries: 0,
      tokens: 0,
      ...fields,
    };
  }

  private async runNode(
    node: WorkflowNode,
    runInputs: Record<string, unknown>,
    opts: EngineRunOptions,
    run: {
      runId: string;
      signal: AbortSignal;
      stopped: () => string | undefined;
      outputs: Map<string, Record<string, unknown>>;
      emit: (e: NodeRunEvent) => Promise<void>;
      settle: (id: string, exit: Exit | null) => Promise<void>;
      halt: (status: 'failed', error: string) => void;
      releaseSlot: () => void;
    },
  ): Promise<void> {
    const started_at = Date.now();
    const timeoutMs = node.timeout_ms ?? opts.nodeTimeoutMs ?? ENGINE_DEFAULTS.nodeTimeoutMs;
    const retry = node.retry ?? opts.retry;
    const maxRetries = retry?.max_retries ?? 0;
    const backoffMs = retry?.backoff_ms ?? ENGINE_DEFAULTS.backoffMs;
    const done = (status: 'succeeded' | 'failed', fields: Partial<NodeRunEvent>) =>
      this.event(node, status, {
        started_at,
        finished_at: Date.now(),
        latency: Date.now() - started_at,
        inputs,
        ...fields,
      });

    let inputs: Record<string, unknown> = {};
    let execution: NodeExecution | undefined;
    let failure = '';
    let retries = 0;
    try {
      inputs = this.resolveInputs(node, runInputs, run.outputs);
    } catch (e) {
      failure = errorMessage(e);
    }
    await run.emit(this.event(node, 'running', { started_at, inputs }));

    const executor = this.executors.get(node.node_type);
    if (!failure && !executor) failure = `no executor for node type "${node.node_type}"`;
    for (let attempt = 0; !failure; attempt++) {
      try {
        execution = await this.attempt(
          node,
          executor!,
          inputs,
          timeoutMs,
          attempt,
          runInputs,
          opts,
          run,
        );
        break;
      } catch (e) {
        failure = run.stopped() ?? errorMessage(e);
        if (run.stopped() || attempt >= maxRetries) break;
      }
      try {
        await sleep(backoffMs * 2 ** attempt, undefined, { signal: run.signal });
      } catch {
        failure = run.stopped() ?? failure;
        break;
      }
      failure = '';
      retries++;
    }

    if (execution && !failure) {
      run.outputs.set(node.id, execution.outputs);
      await run.emit(
        done('succeeded', {
          outputs: execution.outputs,
          retries,
          handle: execution.handle,
          tokens: execution.tokens ?? 0,
        }),
      );
      return run.settle(node.id, { handle: execution.handle });
    }
    const stopped = run.stopped();
    if (stopped) {
      await run.emit(done('failed', { error: stopped, retries }));
      return;
    }
    const strategy = node.error_strategy ?? 'fail';
    if (strategy === 'default_value') {
      const outputs = this.defaultOutputs(node);
      run.outputs.set(node.id, outputs);
      await run.emit(done('failed', { outputs, error: failure, retries, handled_by: strategy }));
      return run.settle(node.id, {});
    }
    if (strategy === 'error_branch') {
      const outputs = { error: failure };
      run.outputs.set(node.id, outputs);
      await run.emit(
        done('failed', {
          outputs,
          error: failure,
          retries,
          handle: ERROR_HANDLE,
          handled_by: strategy,
        }),
      );
      return run.settle(node.id, { handle: ERROR_HANDLE });
    }
    await run.emit(done('failed', { error: failure, retries }));
    run.halt('failed', `Node "${node.title}" (${node.id}) failed: ${failure}`);
  }

  /** One attempt, bounded by the node's timeout and the run's signal even if the executor is not. */
  private async attempt(
    node: WorkflowNode,
    executor: NodeExecutor,
    inputs: Record<string, unknown>,
    timeoutMs: number,
    attempt: number,
    runInputs: Record<string, unknown>,
    opts: EngineRunOptions,
    run: { runId: string; signal: AbortSignal; releaseSlot: () => void },
  ): Promise<NodeExecution> {
    const nodeCtl = new AbortController();
    const timer = setTimeout(
      () => nodeCtl.abort(new NodeTimeoutError(`timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    const signal = AbortSignal.any([run.signal, nodeCtl.signal]);
    const ctx: NodeExecutionContext = {
      signal,
      accountId: opts.accountId,
      runId: run.runId,
      runInputs,
      timeoutMs,
      attempt,
      runGraph: (graph, inputs, sub = {}) => {
        run.releaseSlot();
        return this.execute(graph, inputs, {
          accountId: opts.accountId,
          concurrency: sub.concurrency ?? opts.concurrency,
          maxSteps: sub.maxSteps ?? opts.maxSteps,
          maxRunMs: timeoutMs,
          nodeTimeoutMs: opts.nodeTimeoutMs,
          retry: opts.retry,
          signal,
          onEvent: sub.onEvent,
          budget: opts.budget,
        });
      },
    };
    let onAbort: (() => void) | undefined;
    try {
      const execution = await new Promise<NodeExecution>((resolve, reject) => {
        onAbort = () => reject(signal.reason as Error);
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        executor.run(node, inputs, ctx).then(resolve, reject);
      });
      return { ...execution, outputs: this.coerceOutputs(node, execution.outputs) };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort!);
    }
  }

  /** Start: the run's inputs; end: its output values; others: their inputs. */
  private resolveInputs(
    node: WorkflowNode,
    runInputs: Record<string, unknown>,
    outputs: Map<string, Record<string, unknown>>,
  ): Record<string, unknown> {
    if (node.node_type === 'start') return runInputs;
    const lookup = (id: string) => outputs.get(id);
    if (node.node_type === 'end') return resolveVariables(node.outputs ?? [], lookup);
    return resolveVariables(node.inputs ?? [], lookup);
  }

  /** Declared outputs are coerced to their types; undeclared ones pass through. */
  private coerceOutputs(node: WorkflowNode, out: Record<string, unknown>): Record<string, unknown> {
    if (node.node_type === 'start' || node.node_type === 'end') return out;
    const declared = node.outputs as Variable[] | undefined;
    if (!declared?.length) return out;
    const result = { ...out };
    for (const v of declared)
      if (v.name in result) {
        try {
          result[v.name] = coerce(result[v.name], v.type);
        } catch (e) {
          throw new Error(`output "${v.name}" (${v.type}): ${errorMessage(e)}`);
        }
      }
    return result;
  }

  private defaultOutputs(node: WorkflowNode): Record<string, unknown> {
    const given = node.default_outputs ?? {};
    const out: Record<string, unknown> = {};
    const declared = node.node_type === 'start' ? [] : (node.outputs ?? []);
    for (const v of declared) out[v.name] = v.name in given ? given[v.name] : typeDefault(v.type);
    return { ...given, ...out };
  }
}
