import type { NodeType, WorkflowGraph, WorkflowNode } from '../graph/graph.types';

export type NodeRunStatus = 'running' | 'succeeded' | 'failed' | 'skipped';
export type RunStatus = 'succeeded' | 'failed' | 'stopped' | 'timeout';

/**
 * One node's state change: `running` when it starts, then exactly one of succeeded, failed or
 * skipped (a skipped node has no `running` event). This is what a `workflow_result` row stores
 * and what a resumed run reads back through `EngineRunOptions.completed`.
 */
export interface NodeRunEvent {
  /** Unique per event (the SSE frame's `id`). */
  id: string;
  node_id: string;
  node_type: NodeType;
  title: string;
  status: NodeRunStatus;
  /** The resolved inputs (the start node: the run's inputs after coercion). */
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
  /** Milliseconds, retries and backoff included; 0 until finished and for skipped nodes. */
  latency: number;
  /** `""` unless failed. */
  error: string;
  /** Unix milliseconds. */
  started_at: number;
  /** Unix milliseconds; 0 while running. */
  finished_at: number;
  /** Retries made after the first attempt. */
  retries: number;
  /** Model tokens the node used (prompt + completion); 0 for nodes that call no model. */
  tokens: number;
  /**
   * The out-edge handle taken: an if_else branch id or `else`, a class id, or `error` when a
   * failure took the error branch. Absent for nodes without handles.
   */
  handle?: string;
  /** Set on a failed node whose failure the run absorbed (its error strategy). */
  handled_by?: 'default_value' | 'error_branch';
}

export interface RunResult {
  status: RunStatus;
  /** The end node's outputs ({} unless succeeded). */
  outputs: Record<string, unknown>;
  /** `""` when succeeded. */
  error: string;
  /** Nodes executed in this run (restored ones excluded). */
  steps: number;
  /** Milliseconds. */
  latency: number;
}

/** What an executor produced: outputs, and for branching nodes the handle to follow. */
export interface NodeExecution {
  outputs: Record<string, unknown>;
  handle?: string;
  /** Model tokens the node used (llm, question_classifier), as the provider reported them. */
  tokens?: number;
}

/** What every executor gets besides its node and resolved inputs. */
export interface NodeExecutionContext {
  /** Aborted on the node's timeout, the run's stop, wall-time limit or failure. */
  signal: AbortSignal;
  accountId: string;
  /** The run's id (for logs, usage rows, sub-runs). */
  runId: string;
  /** The run's raw inputs (the start executor reads them). */
  runInputs: Record<string, unknown>;
  /** The node's timeout in ms (an executor passing it on, e.g. to HTTP or the code sandbox). */
  timeoutMs: number;
  /** 0 for the first attempt. */
  attempt: number;
  /** Runs a sub-graph with the same executors and account, stopped with this node (iteration). */
  runGraph(
    graph: WorkflowGraph,
    inputs: Record<string, unknown>,
    opts?: Partial<Pick<EngineRunOptions, 'concurrency' | 'maxSteps' | 'onEvent'>>,
  ): Promise<RunResult>;
}

/** Runs one node type. Throwing fails the attempt (then retry, then the error strategy). */
export interface NodeExecutor<N extends WorkflowNode = WorkflowNode> {
  run(node: N, inputs: Record<string, unknown>, ctx: NodeExecutionContext): Promise<NodeExecution>;
}

/** The code node's sandbox (QuickJS, built elsewhere): runs `main(params)` of `code`. */
export interface CodeRunner {
  run(
    code: string,
    params: Record<string, unknown>,
    opts: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<Record<string, unknown>>;
}

export interface EngineRunOptions {
  accountId: string;
  /** Default a random uuid. */
  runId?: string;
  /** Nodes running at once (default 4). */
  concurrency?: number;
  /** Nodes executed at most (default 500); more ends the run with `timeout`. */
  maxSteps?: number;
  /** Wall time of the run in ms (default 10 minutes); more ends it with `timeout`. */
  maxRunMs?: number;
  /** A node's attempt timeout when the node sets none (default 60 s). */
  nodeTimeoutMs?: number;
  /** Retry when the node sets none (default none). */
  retry?: { max_retries: number; backoff_ms?: number };
  /** Stops the run (`stopped`) and aborts its running nodes. */
  signal?: AbortSignal;
  /** Nodes already finished (a resumed run): not run again, their outputs feed successors. */
  completed?: ReadonlyMap<string, NodeRunEvent>;
  /**
   * Every event, in order. A final event is awaited before its successors start, so a store
   * written here never holds a node whose predecessors it lacks. A throw fails the run.
   */
  onEvent?: (event: NodeRunEvent) => void | Promise<void>;
  /**
   * What the whole run may use, shared by its sub-runs (iterations, nested ones included): made
   * by the top-level run from `maxRunSteps` / `maxRunActive`, passed down by `runGraph`.
   */
  budget?: RunBudget;
  /** Node executions of the run and all its sub-runs together (default 10,000). */
  maxRunSteps?: number;
  /** Nodes running at once in the run and its sub-runs (default 16); one running sub-graphs (an
   * iteration) gives its place back while they run. */
  maxRunActive?: number;
}

/** The run-wide limits a top-level run shares with its sub-runs. */
export interface RunBudget {
  stepsLeft: number;
  maxSteps: number;
  active: number;
  maxActive: number;
  /** Pumps of (sub-)runs waiting for an active slot, called when one frees up. */
  waiting: Set<() => void>;
}
