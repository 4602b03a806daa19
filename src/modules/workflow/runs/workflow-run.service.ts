import {
  isUuid,
  NotFoundError,
  Page,
  paginate,
  SseStream,
  toUnix,
  ValidateError,
} from '@app/common';
import { JobQueue } from '@app/queue';
import { RealtimeEmitter, RealtimeSubscriptions } from '@app/realtime';
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, LessThan, Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import {
  ListWorkflowRunsDto,
  WorkflowNodeResultDto,
  WorkflowRunDetailDto,
  WorkflowRunDto,
} from '../dto/workflow-run.dto';
import { ENGINE_DEFAULTS, NodeRunEvent, RunResult, WorkflowEngine } from '../engine';
import { WorkflowResultEntity } from '../entities/workflow-result.entity';
import {
  WorkflowRunEntity,
  WorkflowRunSource,
  WorkflowRunStatus,
} from '../entities/workflow-run.entity';
import type { DraftGraph, WorkflowGraph } from '../graph/graph.types';
import { WorkflowService } from '../workflow.service';

type Json = Record<string, unknown>;
const RUN_NOT_FOUND = 'The workflow run does not exist';
/** The queue job's limit: the engine's own wall-time limit ends the run first. */
const JOB_TIMEOUT_MS = ENGINE_DEFAULTS.maxRunMs + 60_000;
/** Runs outside the queue (debug, tool) this much older than the run limit died with a process. */
const ABANDONED_AFTER_MS = ENGINE_DEFAULTS.maxRunMs + 60_000;

export const workflowRunRoom = (runId: string): string => `workflow_run:${runId}`;
const seconds = (ms: number): number => Math.round(ms) / 1000;
const dateOf = (ms: number): Date | null => (ms > 0 ? new Date(ms) : null);

/** TypeORM's deep-partial type cannot express jsonb columns of open records. */
const asJsonb = (v: unknown) => v as QueryDeepPartialEntity<Json>;

export interface RunOptions {
  /** Stops the run (`stopped`). */
  signal?: AbortSignal;
  /** Called with every final node event after it is stored, before successors start. */
  onFinal?: (event: NodeRunEvent) => void | Promise<void>;
  /** True when the process is going away: nothing more is stored, the run resumes later. */
  discard?: () => boolean;
}

/**
 * Runs of workflows: the debug stream (the draft, in the request), published runs (the
 * `workflow.run` queue job, resumable from the stored node results), in-process runs for callers
 * that need the result (the workflow tool), and the run history. Every final node event is a
 * `workflow_results` row written before the node's successors start.
 */
@Injectable()
export class WorkflowRunService implements OnModuleInit {
  private readonly logger = new Logger('WorkflowRuns');

  constructor(
    @InjectRepository(WorkflowRunEntity) private readonly runs: Repository<WorkflowRunEntity>,
    @InjectRepository(WorkflowResultEntity)
    private readonly results: Repository<WorkflowResultEntity>,
    private readonly workflows: WorkflowService,
    private readonly engine: WorkflowEngine,
    private readonly queue: JobQueue,
    private readonly realtime: RealtimeEmitter,
    private readonly subscriptions: RealtimeSubscriptions,
  ) {}

  onModuleInit(): void {
    this.subscriptions.register<{ run_id?: unknown }>({
      subscribe: 'subscribe_workflow_run',
      room: (p) =>
        typeof p?.run_id === 'string' && isUuid(p.run_id) ? workflowRunRoom(p.run_id) : null,
      authorize: async (accountId, p) =>
        (await this.runs.count({ where: { id: p.run_id as string, account_id: accountId } })) > 0,
      // A run that already ended: its end, since its node events went out before the subscribe.
      snapshot: async (accountId, p) => {
        const run = await this.runs.findOne({
          where: { id: p.run_id as string, account_id: accountId },
        });
        return run && run.status !== 'running'
          ? { event: 'workflow_finished', data: this.finishedPayload(run) }
          : null;
      },
    });
    this.queue.registerRecoveryHook(async () => {
      await this.failAbandoned();
    });
  }

  /**
   * The debug run: validates the draft (a failure throws before the stream opens, answered as
   * a JSON envelope), then streams one `workflow` frame per node that ran (CONSOLE-SHAPES §5).
   * Skipped nodes get no frame (they did not run; the console knows only running, succeeded and
   * failed, and shows the last frame as the last node run); their rows are in the history. A
   * client that goes away does not stop the run: it ends within its limits and is stored.
   */
  async debug(
    accountId: string,
    workflowId: string,
    body: unknown,
    sse: SseStream,
    origin: string,
  ): Promise<void> {
    const inputs = this.inputsOf(body);
    const { workflow, graph } = await this.workflows.draftForRun(accountId, workflowId);
    await this.workflows.validateDraft(accountId, graph);
    const view = await this.workflows.viewGraph(accountId, graph, origin);
    const nodeData = new Map(view.nodes.map((n) => [String(n.id), n]));
    const run = await this.createRun(accountId, workflow.id, 'debug', inputs, graph);
    sse.open();
    try {
      const result = await this.execute(run, {
        onFinal: (e) => {
          if (e.status === 'skipped') return;
          sse.send('workflow', {
            id: e.id,
            node_data: nodeData.get(e.node_id) ?? {
              id: e.node_id,
              node_type: e.node_type,
              title: e.title,
            },
            status: e.status,
            inputs: e.inputs,
            outputs: e.outputs,
            latency: seconds(e.latency),
            error: e.error,
          });
        },
      });
      if (result.status === 'succeeded')
        await this.workflows.markDebugPassed(accountId, workflow.id, graph);
    } catch (err) {
      // No `error` frame: the console throws on a frame without node_data (CONSOLE-SHAPES §5).
      this.logger.warn(`debug run ${run.id} failed: ${String(err)}`);
    } finally {
      sse.close();
    }
  }

  /** Starts a run of the published graph in the `workflow` queue; answers the run row. */
  async startRun(
    accountId: string,
    workflowId: string,
    inputs: Json,
    source: Exclude<WorkflowRunSource, 'debug'> = 'published',
  ): Promise<WorkflowRunDto> {
    const { workflow, graph } = await this.workflows.publishedGraph(accountId, workflowId);
    const run = await this.createRun(accountId, workflow.id, source, this.inputsOf(inputs), graph);
    try {
      await this.queue.enqueue(
        'workflow.run',
        { run_id: run.id },
        { key: `${run.id}:run`, accountId, attempts: 3, timeoutMs: JOB_TIMEOUT_MS },
      );
    } catch (err) {
      await this.finish(run, {
        status: 'failed',
        outputs: {},
        error: 'The run could not be queued',
      });
      throw err;
    }
    return this.toDto(run);
  }

  /**
   * Runs the published graph here and now and returns its result (the workflow tool). Not
   * through the queue: a workflow calling a workflow as a tool from inside a queue job would
   * wait for a queue slot its own job may hold.
   */
  async runAndWait(
    accountId: string,
    workflowId: string,
    inputs: Json,
    source: Exclude<WorkflowRunSource, 'debug'> = 'tool',
    opts: { signal?: AbortSignal } = {},
  ): Promise<RunResult & { run_id: string }> {
    const { workflow, graph } = await this.workflows.publishedGraph(accountId, workflowId);
    const run = await this.createRun(accountId, workflow.id, source, this.inputsOf(inputs), graph);
    const result = await this.execute(run, { signal: opts.signal });
    return { ...result, run_id: run.id };
  }

  /** The queue job: runs a stored run, restoring the nodes it already finished. */
  async processRun(
    runId: string,
    opts: { signal?: AbortSignal; discard?: () => boolean },
  ): Promise<{ status: WorkflowRunStatus }> {
    const run = await this.runs.findOne({ where: { id: runId } });
    if (!run) return { status: 'failed' };
    if (run.status !== 'running') return { status: run.status };
    const result = await this.execute(run, opts);
    return { status: result.status };
  }

  /**
   * Runs `run.graph`; final events are stored as they happen and broadcast, and the run row is
   * finished at the end. Stored results of the run are restored (a resumed run); the engine
   * runs again what it cannot restore, and the upsert replaces those rows.
   */
  async execute(run: WorkflowRunEntity, opts: RunOptions = {}): Promise<RunResult> {
    const completed = new Map<string, NodeRunEvent>();
    const stored = await this.results.find({ where: { run_id: run.id } });
    for (const r of stored) completed.set(r.node_id, this.toEvent(r));
    const result = await this.engine.execute(run.graph as unknown as WorkflowGraph, run.inputs, {
      accountId: run.account_id,
      runId: run.id,
      completed,
      signal: opts.signal,
      onEvent: async (e) => {
        if (e.status === 'running' || opts.discard?.()) return;
        const row = await this.storeResult(run, e);
        this.realtime.toRoom(workflowRunRoom(run.id), 'workflow_node', {
          run_id: run.id,
          workflow_id: run.workflow_id,
          ...this.resultDto(row),
        });
        await opts.onFinal?.(e);
      },
    });
    if (opts.discard?.()) return result;
    await this.finish(run, result);
    return result;
  }

  async list(
    accountId: string,
    workflowId: string,
    q: ListWorkflowRunsDto,
  ): Promise<Page<WorkflowRunDto>> {
    await this.workflows.get(accountId, workflowId);
    const qb = this.runs
      .createQueryBuilder('r')
      .select([
        'r.id',
        'r.account_id',
        'r.workflow_id',
        'r.source',
        'r.status',
        'r.inputs',
        'r.outputs',
        'r.error',
        'r.latency',
        'r.started_at',
        'r.finished_at',
        'r.created_at',
        'r.updated_at',
      ])
      .where('r.account_id = :accountId AND r.workflow_id = :workflowId', {
        accountId,
        workflowId,
      })
      .orderBy('r.created_at', 'DESC')
      .addOrderBy('r.id', 'DESC');
    if (q.status) qb.andWhere('r.status = :status', { status: q.status });
    return paginate(qb, q, (r) => this.toDto(r));
  }

  async get(accountId: string, workflowId: string, runId: string): Promise<WorkflowRunDetailDto> {
    if (!isUuid(workflowId) || !isUuid(runId)) throw new NotFoundError(RUN_NOT_FOUND);
    const run = await this.runs.findOne({
      where: { id: runId, workflow_id: workflowId, account_id: accountId },
    });
    if (!run) throw new NotFoundError(RUN_NOT_FOUND);
    const rows = await this.results.find({
      where: { run_id: run.id, account_id: accountId },
      order: { finished_at: 'ASC', created_at: 'ASC' },
    });
    return { ...this.toDto(run), results: rows.map((r) => this.resultDto(r)) };
  }

  /** Debug and tool runs live in a request: one older than any run can be died with a process. */
  async failAbandoned(): Promise<number> {
    const res = await this.runs.update(
      {
        status: 'running',
        source: In(['debug', 'tool']),
        started_at: LessThan(new Date(Date.now() - ABANDONED_AFTER_MS)),
      },
      { status: 'failed', error: 'The run was interrupted', finished_at: new Date() },
    );
    return res.affected ?? 0;
  }

  private inputsOf(body: unknown): Json {
    if (body === undefined || body === null) return {};
    if (typeof body !== 'object' || Array.isArray(body))
      throw new ValidateError({ inputs: ['The inputs must be an object of start inputs'] });
    return body as Json;
  }

  private createRun(
    accountId: string,
    workflowId: string,
    source: WorkflowRunSource,
    inputs: Json,
    graph: DraftGraph,
  ): Promise<WorkflowRunEntity> {
    return this.runs.save(
      this.runs.create({
        account_id: accountId,
        workflow_id: workflowId,
        source,
        status: 'running',
        inputs,
        outputs: {},
        error: '',
        started_at: new Date(),
        finished_at: null,
        latency: 0,
        graph,
      }),
    );
  }

  private async storeResult(
    run: WorkflowRunEntity,
    e: NodeRunEvent,
  ): Promise<WorkflowResultEntity> {
    const row = this.results.create({
      id: e.id,
      account_id: run.account_id,
      run_id: run.id,
      node_id: e.node_id,
      node_type: e.node_type,
      title: e.title,
      status: e.status as WorkflowResultEntity['status'],
      inputs: e.inputs,
      outputs: e.outputs,
      handle: e.handle ?? null,
      handled_by: e.handled_by ?? null,
      error: e.error,
      retries: e.retries,
      tokens: e.tokens,
      latency: seconds(e.latency),
      started_at: dateOf(e.started_at),
      finished_at: dateOf(e.finished_at),
    });
    // One row per node: a node run again after a resume replaces its row.
    await this.results.upsert(row as QueryDeepPartialEntity<WorkflowResultEntity>, {
      conflictPaths: ['run_id', 'node_id'],
    });
    return row;
  }

  private async finish(
    run: WorkflowRunEntity,
    result: Pick<RunResult, 'status' | 'outputs' | 'error'>,
  ): Promise<void> {
    const finished = new Date();
    const started = run.started_at ?? run.created_at;
    Object.assign(run, {
      status: result.status,
      outputs: result.outputs,
      error: result.error,
      finished_at: finished,
      // Wall time from the start: a resumed run includes the time it was down.
      latency: seconds(finished.getTime() - started.getTime()),
    });
    await this.runs.update(
      { id: run.id },
      {
        status: run.status,
        outputs: asJsonb(run.outputs),
        error: run.error,
        finished_at: finished,
        latency: run.latency,
      },
    );
    const payload = this.finishedPayload(run);
    // Only to the run's room, as CONTRACT says of every resource's events.
    this.realtime.toRoom(workflowRunRoom(run.id), 'workflow_finished', payload);
  }

  private finishedPayload(run: WorkflowRunEntity): Json {
    return {
      run_id: run.id,
      workflow_id: run.workflow_id,
      source: run.source,
      status: run.status,
      outputs: run.outputs,
      error: run.error,
      latency: run.latency,
    };
  }

  private toEvent(r: WorkflowResultEntity): NodeRunEvent {
    return {
      id: r.id,
      node_id: r.node_id,
      node_type: r.node_type,
      title: r.title,
      status: r.status,
      inputs: r.inputs,
      outputs: r.outputs,
      latency: Math.round(r.latency * 1000),
      error: r.error,
      started_at: r.started_at?.getTime() ?? 0,
      finished_at: r.finished_at?.getTime() ?? 0,
      retries: r.retries,
      tokens: r.tokens,
      ...(r.handle !== null ? { handle: r.handle } : {}),
      ...(r.handled_by !== null ? { handled_by: r.handled_by } : {}),
    };
  }

  private toDto(r: WorkflowRunEntity): WorkflowRunDto {
    return {
      id: r.id,
      workflow_id: r.workflow_id,
      source: r.source,
      status: r.status,
      inputs: r.inputs,
      outputs: r.outputs,
      error: r.error,
      latency: r.latency,
      started_at: toUnix(r.started_at),
      finished_at: toUnix(r.finished_at),
      created_at: toUnix(r.created_at),
    };
  }

  private resultDto(r: WorkflowResultEntity): WorkflowNodeResultDto {
    return {
      id: r.id,
      node_id: r.node_id,
      node_type: r.node_type,
      title: r.title,
      status: r.status,
      inputs: r.inputs,
      outputs: r.outputs,
      handle: r.handle ?? '',
      handled_by: r.handled_by ?? '',
      error: r.error,
      retries: r.retries,
      tokens: r.tokens,
      latency: r.latency,
      started_at: toUnix(r.started_at),
      finished_at: toUnix(r.finished_at),
    };
  }
}
