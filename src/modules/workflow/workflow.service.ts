import {
  escapeLike,
  FailException,
  NotFoundError,
  Page,
  paginate,
  toUnix,
  ValidateError,
} from '@app/common';
import { isUniqueViolation } from '@app/database';
import { isUuid } from '@app/common';
import { AppConfig } from '@app/config';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { DatasetService } from 'src/modules/dataset/services/dataset.service';
import { Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { ApiToolService } from 'src/modules/tool/api-tool/api-tool.service';
import { BuiltinCatalog } from 'src/modules/tool/builtin/builtin-catalog.service';
import { datasetIdsOf, normalizeDraft, viewNode, type ViewContext } from './graph/draft-graph';
import { GraphValidator } from './graph/graph-validator.service';
import type { DraftGraph } from './graph/graph.types';
import {
  CreatedWorkflowDto,
  DraftGraphViewDto,
  ListWorkflowsDto,
  SaveWorkflowDto,
  WorkflowDto,
} from './dto/workflow.dto';
import { WorkflowEntity } from './entities/workflow.entity';

/** TypeORM's deep-partial type cannot express a jsonb column of open records. */
const asJsonb = (g: DraftGraph | Record<string, never>) =>
  g as unknown as QueryDeepPartialEntity<DraftGraph>;

const NOT_FOUND = 'The workflow does not exist';
const NAME_TAKEN = 'A workflow with this tool_call_name already exists';
/** Every column but the graphs, which may be large: lists and details never need them. */
const SUMMARY_COLUMNS = [
  'id',
  'account_id',
  'name',
  'tool_call_name',
  'icon',
  'description',
  'status',
  'is_debug_passed',
  'published_at',
  'created_at',
  'updated_at',
] as const;

/**
 * Workflows of an account: CRUD, the draft graph (stored as the console saves it), publish
 * (full validation, after a debug run passed) and cancel-publish. The engine increment runs the
 * graphs; it marks debug passes through `markDebugPassed`.
 */
@Injectable()
export class WorkflowService {
  constructor(
    @InjectRepository(WorkflowEntity) private readonly workflows: Repository<WorkflowEntity>,
    private readonly validator: GraphValidator,
    private readonly datasets: DatasetService,
    private readonly builtin: BuiltinCatalog,
    private readonly apiTools: ApiToolService,
    private readonly config: AppConfig,
  ) {}

  async list(accountId: string, q: ListWorkflowsDto): Promise<Page<WorkflowDto>> {
    const qb = this.workflows
      .createQueryBuilder('w')
      .select(SUMMARY_COLUMNS.map((c) => `w.${c}`))
      .where('w.account_id = :accountId', { accountId })
      .orderBy('w.created_at', 'DESC')
      .addOrderBy('w.id', 'DESC');
    if (q.search_word) qb.andWhere('w.name ILIKE :s', { s: `%${escapeLike(q.search_word)}%` });
    if (q.status) qb.andWhere('w.status = :status', { status: q.status });
    const page = await paginate(qb, q);
    // The list counts the published graph's nodes, the detail the draft's (as the original).
    const counts = await this.nodeCounts(
      accountId,
      page.list.map((w) => w.id),
      'graph',
    );
    return {
      paginator: page.paginator,
      list: page.list.map((w) => this.toDto(w, counts.get(w.id) ?? 0)),
    };
  }

  async create(accountId: string, dto: SaveWorkflowDto): Promise<CreatedWorkflowDto> {
    await this.assertNameFree(accountId, dto.tool_call_name);
    try {
      const row = await this.workflows.save(
        this.workflows.create({
          account_id: accountId,
          name: dto.name,
          tool_call_name: dto.tool_call_name,
          icon: dto.icon,
          description: dto.description,
          status: 'draft',
          draft_graph: { nodes: [], edges: [] },
          graph: {},
          is_debug_passed: false,
          published_at: null,
        }),
      );
      return { id: row.id };
    } catch (e) {
      if (isUniqueViolation(e)) throw new ValidateError({ tool_call_name: [NAME_TAKEN] });
      throw e;
    }
  }

  async get(accountId: string, id: string): Promise<WorkflowDto> {
    const row = await this.summary(accountId, id);
    const counts = await this.nodeCounts(accountId, [row.id], 'draft_graph');
    return this.toDto(row, counts.get(row.id) ?? 0);
  }

  async update(accountId: string, id: string, dto: SaveWorkflowDto): Promise<void> {
    const row = await this.summary(accountId, id);
    await this.assertNameFree(accountId, dto.tool_call_name, row.id);
    try {
      await this.workflows.update(
        { id: row.id, account_id: accountId },
        {
          name: dto.name,
          tool_call_name: dto.tool_call_name,
          icon: dto.icon,
          description: dto.description,
        },
      );
    } catch (e) {
      if (isUniqueViolation(e)) throw new ValidateError({ tool_call_name: [NAME_TAKEN] });
      throw e;
    }
  }

  async delete(accountId: string, id: string): Promise<void> {
    const row = await this.summary(accountId, id);
    // Its runs go with it (their history is reachable only through the workflow).
    await this.workflows.manager.transaction(async (m) => {
      await m.query(
        'DELETE FROM workflow_results WHERE run_id IN (SELECT id FROM workflow_runs WHERE workflow_id = $1 AND account_id = $2)',
        [row.id, accountId],
      );
      await m.query('DELETE FROM workflow_runs WHERE workflow_id = $1 AND account_id = $2', [
        row.id,
        accountId,
      ]);
      await m.delete(WorkflowEntity, { id: row.id, account_id: accountId });
    });
  }

  /** The draft as stored, plus what reads add (LLM config under both names, dataset meta). */
  async getDraftGraph(accountId: string, id: string, origin: string): Promise<DraftGraphViewDto> {
    const row = await this.full(accountId, id);
    return this.view(accountId, row.draft_graph, origin);
  }

  /** Stores the draft leniently (outline and size only) and resets the debug pass. */
  async saveDraftGraph(
    accountId: string,
    id: string,
    body: unknown,
    origin: string,
  ): Promise<DraftGraphViewDto> {
    const row = await this.summary(accountId, id);
    const draft = normalizeDraft(body);
    await this.workflows.update(
      { id: row.id, account_id: accountId },
      { draft_graph: asJsonb(draft), is_debug_passed: false },
    );
    return this.view(accountId, draft, origin);
  }

  /**
   * The stored draft for a debug run (the engine increment): validate it with `validateDraft`,
   * run it, then call `markDebugPassed` with the same graph.
   */
  async draftForRun(
    accountId: string,
    id: string,
  ): Promise<{ workflow: WorkflowEntity; graph: DraftGraph }> {
    const row = await this.full(accountId, id);
    return { workflow: row, graph: row.draft_graph };
  }

  /** The graph's nodes as reads show them (debug frames carry them as `node_data`). */
  async viewGraph(
    accountId: string,
    graph: DraftGraph,
    origin: string,
  ): Promise<DraftGraphViewDto> {
    return this.view(accountId, graph, origin);
  }

  /** Full validation (CONSOLE-SHAPES §3.5): one validate_error listing every violation. */
  async validateDraft(accountId: string, graph: DraftGraph): Promise<void> {
    await this.validator.assertValid(accountId, graph);
  }

  /**
   * Marks the draft debug-passed, only if it is still the graph that ran (a save during the run
   * resets the flag and must win). Returns whether it was marked.
   */
  async markDebugPassed(accountId: string, id: string, ranGraph: DraftGraph): Promise<boolean> {
    const res = await this.workflows
      .createQueryBuilder()
      .update(WorkflowEntity)
      .set({ is_debug_passed: true })
      .where('id = :id AND account_id = :accountId AND draft_graph = CAST(:graph AS jsonb)', {
        id,
        accountId,
        graph: JSON.stringify(ranGraph),
      })
      .execute();
    return (res.affected ?? 0) > 0;
  }

  /** Copies the draft to the published graph after a debug pass and a full validation. */
  async publish(accountId: string, id: string): Promise<void> {
    const row = await this.full(accountId, id);
    if (!row.is_debug_passed)
      throw new FailException('Run the workflow in debug successfully before publishing it');
    const draft = row.draft_graph;
    const violations = await this.validator.violations(accountId, draft);
    if (violations.length) {
      await this.workflows.update(
        { id: row.id, account_id: accountId },
        { is_debug_passed: false },
      );
      await this.validator.assertValid(accountId, draft);
    }
    // Only the draft that was validated and debugged: a save in between resets the flag.
    const res = await this.workflows
      .createQueryBuilder()
      .update(WorkflowEntity)
      .set({ graph: asJsonb(draft), status: 'published', published_at: () => 'now()' })
      .where(
        'id = :id AND account_id = :accountId AND is_debug_passed AND draft_graph = CAST(:graph AS jsonb)',
        { id: row.id, accountId, graph: JSON.stringify(draft) },
      )
      .execute();
    if (!res.affected)
      throw new FailException('The draft changed while publishing; run the debug again');
  }

  async cancelPublish(accountId: string, id: string): Promise<void> {
    const row = await this.summary(accountId, id);
    if (row.status !== 'published') throw new FailException('The workflow is not published');
    await this.workflows.update(
      { id: row.id, account_id: accountId },
      { status: 'draft', graph: {}, is_debug_passed: false, published_at: null },
    );
  }

  /** The published graph (apps, the workflow tool); not_found unless published. */
  async publishedGraph(
    accountId: string,
    id: string,
  ): Promise<{ workflow: WorkflowEntity; graph: DraftGraph }> {
    const row = await this.full(accountId, id);
    if (row.status !== 'published') throw new NotFoundError('The workflow is not published');
    return { workflow: row, graph: row.graph as DraftGraph };
  }

  /**
   * The account's published workflows among `ids` (apps bind them), without their graphs;
   * drafts, other accounts' and unknown ids are left out.
   */
  async publishedAmong(accountId: string, ids: string[]): Promise<WorkflowEntity[]> {
    const wanted = [...new Set(ids.filter(isUuid))];
    if (!wanted.length) return [];
    return this.workflows
      .createQueryBuilder('w')
      .select(SUMMARY_COLUMNS.map((c) => `w.${c}`))
      .where('w.account_id = :accountId AND w.id IN (:...wanted)', { accountId, wanted })
      .andWhere("w.status = 'published'")
      .getMany();
  }

  private async summary(accountId: string, id: string): Promise<WorkflowEntity> {
    if (!isUuid(id)) throw new NotFoundError(NOT_FOUND);
    const row = await this.workflows
      .createQueryBuilder('w')
      .select(SUMMARY_COLUMNS.map((c) => `w.${c}`))
      .where('w.id = :id AND w.account_id = :accountId', { id, accountId })
      .getOne();
    if (!row) throw new NotFoundError(NOT_FOUND);
    return row;
  }

  private async full(accountId: string, id: string): Promise<WorkflowEntity> {
    if (!isUuid(id)) throw new NotFoundError(NOT_FOUND);
    const row = await this.workflows.findOne({ where: { id, account_id: accountId } });
    if (!row) throw new NotFoundError(NOT_FOUND);
    return row;
  }

  private async nodeCounts(
    accountId: string,
    ids: string[],
    column: 'graph' | 'draft_graph',
  ): Promise<Map<string, number>> {
    if (!ids.length) return new Map();
    const rows = await this.workflows
      .createQueryBuilder('w')
      .select('w.id', 'id')
      // `{}` (never published) has no nodes array: 0.
      .addSelect(
        `CASE WHEN jsonb_typeof(w.${column}->'nodes') = 'array' THEN jsonb_array_length(w.${column}->'nodes') ELSE 0 END`,
        'n',
      )
      .where('w.account_id = :accountId AND w.id IN (:...ids)', { accountId, ids })
      .getRawMany<{ id: string; n: number | string }>();
    return new Map(rows.map((r) => [r.id, Number(r.n)]));
  }

  private async view(
    accountId: string,
    graph: DraftGraph,
    origin: string,
  ): Promise<DraftGraphViewDto> {
    const ids = datasetIdsOf(graph).filter(isUuid);
    const apiRefs = (graph.nodes ?? [])
      .filter((n) => n.node_type === 'tool' && n.tool_type === 'api_tool')
      .map(apiToolRef);
    const [owned, apiTools] = await Promise.all([
      this.datasets.entities(accountId, ids),
      this.apiTools.describeTools(accountId, apiRefs),
    ]);
    const apiMeta = new Map(apiRefs.map((r, i) => [refKey(r), apiTools[i]]));
    const ctx: ViewContext = {
      datasets: new Map(
        owned.map((d) => [
          d.id,
          { id: d.id, name: d.name, icon: d.icon, description: d.description },
        ]),
      ),
      builtinMeta: (n) => this.builtinMeta(n, origin),
      // §3.3: the provider's uuid, its name as label, the ApiTool's uuid as the tool id.
      apiMeta: (n) => {
        const d = apiMeta.get(refKey(apiToolRef(n)));
        return d
          ? {
              type: 'api_tool',
              provider: { ...d.provider, label: d.provider.name },
              tool: { ...d.tool, label: d.tool.name, params: {} },
            }
          : null;
      },
    };
    return {
      nodes: (graph.nodes ?? []).map((n) => viewNode(n, ctx)),
      edges: graph.edges ?? [],
    };
  }

  /** The expanded builtin tool (§4.3): provider name as id, an absolute icon URL, the params. */
  private builtinMeta(n: Record<string, unknown>, origin: string): Record<string, unknown> | null {
    const providerName = typeof n.provider_id === 'string' ? n.provider_id : '';
    const toolName = typeof n.tool_id === 'string' ? n.tool_id : '';
    const provider = this.builtin.providers.find((p) => p.name === providerName);
    const tool = provider?.tools.find((x) => x.name === toolName);
    if (!provider || !tool) return null;
    const base = (this.config.env.PUBLIC_BASE_URL ?? origin).replace(/\/+$/, '');
    return {
      type: 'builtin_tool',
      provider: {
        id: provider.name,
        name: provider.name,
        label: provider.label,
        icon: `${base}/builtin-tools/${provider.name}/icon`,
        description: provider.description,
      },
      tool: {
        id: tool.name,
        name: tool.name,
        label: tool.label,
        description: tool.description,
        params: typeof n.params === 'object' && n.params !== null ? n.params : {},
      },
    };
  }

  private async assertNameFree(accountId: string, name: string, exceptId?: string): Promise<void> {
    const other = await this.workflows.findOne({
      select: { id: true },
      where: { account_id: accountId, tool_call_name: name },
    });
    if (other && other.id !== exceptId) throw new ValidateError({ tool_call_name: [NAME_TAKEN] });
  }

  private toDto(w: WorkflowEntity, nodeCount: number): WorkflowDto {
    return {
      id: w.id,
      name: w.name,
      tool_call_name: w.tool_call_name,
      icon: w.icon,
      description: w.description,
      status: w.status,
      is_debug_passed: w.is_debug_passed,
      node_count: nodeCount,
      published_at: toUnix(w.published_at),
      updated_at: toUnix(w.updated_at),
      created_at: toUnix(w.created_at),
    };
  }
}

/** An API tool node's tool: provider uuid and tool name (operationId), as the console stores them. */
function apiToolRef(n: Record<string, unknown>): { provider_id: string; tool_name: string } {
  return {
    provider_id: typeof n.provider_id === 'string' ? n.provider_id : '',
    tool_name: typeof n.tool_id === 'string' ? n.tool_id : '',
  };
}

const refKey = (r: { provider_id: string; tool_name: string }) => `${r.provider_id}/${r.tool_name}`;
