import { isUuid, NotFoundError, ValidateError } from '@app/common';
import { AppConfig } from '@app/config';
import { Injectable } from '@nestjs/common';
import { isDeepStrictEqual } from 'node:util';
import { DatasetService } from 'src/modules/dataset/services/dataset.service';
import { ModelCatalog } from 'src/modules/model/catalog/model-catalog.service';
import { ApiToolService } from 'src/modules/tool/api-tool/api-tool.service';
import { BuiltinCatalog } from 'src/modules/tool/builtin/builtin-catalog.service';
import { ToolRuntime } from 'src/modules/tool/runtime/tool-runtime.service';
import { WorkflowService } from 'src/modules/workflow/workflow.service';
import {
  DEFAULT_MODEL_CONFIG,
  type AppConfigFields,
  type AppModelConfig,
  type StoredTool,
} from '../config/app-config.types';
import type { DraftUpdate } from '../config/draft-config.validator';
import { coerceParameters } from '../config/model-parameters';
import type { RefViewDto, ToolViewDto } from '../dto/app-config.dto';

/** A config as reads show it: references expanded, and the stored form they were kept from. */
export interface ResolvedConfig {
  /** The config with what no longer exists left out and the model re-validated. */
  config: AppConfigFields;
  tools: ToolViewDto[];
  workflows: RefViewDto[];
  datasets: RefViewDto[];
  /** The keys whose cleaned value differs from the stored one. */
  changed: Array<keyof AppConfigFields>;
}

/**
 * Checks and expands what an app config refers to, through the other modules' services: the
 * model (the language-model catalog), tools (builtin catalog, API tools, the tool runtime for
 * builtin settings), published workflows and datasets of the account.
 */
@Injectable()
export class ConfigResolver {
  constructor(
    private readonly models: ModelCatalog,
    private readonly builtin: BuiltinCatalog,
    private readonly apiTools: ApiToolService,
    private readonly toolRuntime: ToolRuntime,
    private readonly workflows: WorkflowService,
    private readonly datasets: DatasetService,
    private readonly config: AppConfig,
  ) {}

  /**
   * A posted model config: an unknown provider or (chat) model answers validate_error naming
   * the field; parameters are coerced leniently (wrong or missing values take the defaults).
   */
  checkModel(given: AppModelConfig): AppModelConfig {
    try {
      this.models.provider(given.provider);
    } catch (e) {
      if (e instanceof NotFoundError)
        throw new ValidateError({ 'model_config.provider': [e.message] });
      throw e;
    }
    try {
      const model = this.models.model(given.provider, given.model, 'chat');
      return {
        provider: given.provider,
        model: given.model,
        parameters: coerceParameters(model, given.parameters),
      };
    } catch (e) {
      if (e instanceof NotFoundError)
        throw new ValidateError({ 'model_config.model': [e.message] });
      throw e;
    }
  }

  /** A stored model config re-validated: a model that is gone gives the default config. */
  normalizeModel(stored: unknown): AppModelConfig {
    const s = (typeof stored === 'object' && stored !== null ? stored : {}) as Partial<
      Record<keyof AppModelConfig, unknown>
    >;
    if (typeof s.provider === 'string' && typeof s.model === 'string') {
      try {
        const model = this.models.model(s.provider, s.model, 'chat');
        const params =
          typeof s.parameters === 'object' && s.parameters !== null
            ? (s.parameters as Record<string, unknown>)
            : {};
        return {
          provider: s.provider,
          model: s.model,
          parameters: coerceParameters(model, params),
        };
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
      }
    }
    const fallback = this.models.model(DEFAULT_MODEL_CONFIG.provider, DEFAULT_MODEL_CONFIG.model);
    return {
      provider: DEFAULT_MODEL_CONFIG.provider,
      model: DEFAULT_MODEL_CONFIG.model,
      parameters: coerceParameters(fallback, DEFAULT_MODEL_CONFIG.parameters),
    };
  }

  /**
   * The references of a posted update, checked for the account: the model strictly, builtin
   * tool settings strictly (validate_error naming the tool); tools, workflows and datasets that
   * do not exist, are not published or are not the account's are dropped silently.
   */
  async checkUpdate(accountId: string, update: DraftUpdate): Promise<DraftUpdate> {
    const out: DraftUpdate = { ...update };
    if (update.model_config) out.model_config = this.checkModel(update.model_config);
    if (update.tools) out.tools = await this.checkTools(accountId, update.tools);
    if (update.workflows)
      out.workflows = (await this.workflowRefs(accountId, update.workflows)).map((w) => w.id);
    if (update.datasets)
      out.datasets = (await this.datasetRefs(accountId, update.datasets)).map((d) => d.id);
    return out;
  }

  /**
   * A stored config (the draft or a version) as reads show it. Nothing fails here: the model
   * falls back to the default, missing tools, unpublished workflows and deleted datasets are
   * left out, and `changed` says which keys the caller may want to save cleaned. `origin`
   * (where the request reached us) makes builtin tool icons absolute without PUBLIC_BASE_URL.
   */
  async resolve(accountId: string, stored: AppConfigFields, origin = ''): Promise<ResolvedConfig> {
    const [tools, workflows, datasets] = await Promise.all([
      this.toolViews(accountId, stored.tools ?? [], origin),
      this.workflowRefs(accountId, stored.workflows ?? []),
      this.datasetRefs(accountId, stored.datasets ?? []),
    ]);
    const config: AppConfigFields = {
      ...stored,
      model_config: this.normalizeModel(stored.model_config),
      tools: tools.map((t) => t.stored),
      workflows: workflows.map((w) => w.id),
      datasets: datasets.map((d) => d.id),
    };
    const changed = (['model_config', 'tools', 'workflows', 'datasets'] as const).filter(
      (k) => !isDeepStrictEqual(config[k], stored[k]),
    );
    return {
      config,
      tools: tools.map((t) => t.view),
      workflows,
      datasets,
      changed,
    };
  }

  private async checkTools(accountId: string, tools: StoredTool[]): Promise<StoredTool[]> {
    const api = await this.apiTools.describeTools(
      accountId,
      tools.map((t) => ({
        provider_id: t.type === 'api_tool' ? t.provider_id : '',
        tool_name: t.tool_id,
      })),
    );
    const kept: StoredTool[] = [];
    for (const [i, t] of tools.entries()) {
      if (t.type === 'api_tool') {
        if (api[i]) kept.push({ ...t, provider_id: api[i].provider.id, params: {} });
        continue;
      }
      try {
        // The runtime checks a builtin tool's settings as a run will use them.
        await this.toolRuntime.resolve(accountId, {
          type: 'builtin_tool',
          provider: t.provider_id,
          tool: t.tool_id,
          params: t.params,
        });
      } catch (e) {
        if (e instanceof NotFoundError) continue;
        if (e instanceof ValidateError) throw this.toolError(i, t, e);
        throw e;
      }
      kept.push({ ...t, params: this.declaredParams(t) });
    }
    return kept;
  }

  private toolError(i: number, t: StoredTool, e: ValidateError): ValidateError {
    const where = `tools[${i}]`;
    const fields: Record<string, string[]> = {};
    for (const [key, messages] of Object.entries(e.data as Record<string, string[]>))
      fields[`${where}.${key}`] = messages.map(
        (m) => `${where} (${t.provider_id}/${t.tool_id}): ${m}`,
      );
    return new ValidateError(fields);
  }

  /** Only the settings the builtin tool declares (the console sends whole form models). */
  private declaredParams(t: StoredTool): Record<string, unknown> {
    const declared = this.builtin.tool(t.provider_id, t.tool_id).params;
    const given: Record<string, unknown> =
      typeof t.params === 'object' && t.params !== null ? t.params : {};
    return Object.fromEntries(
      declared.filter((p) => Object.hasOwn(given, p.name)).map((p) => [p.name, given[p.name]]),
    );
  }

  private async toolViews(
    accountId: string,
    tools: StoredTool[],
    origin: string,
  ): Promise<Array<{ stored: StoredTool; view: ToolViewDto }>> {
    const api = await this.apiTools.describeTools(
      accountId,
      tools.map((t) => ({
        provider_id: t.type === 'api_tool' ? t.provider_id : '',
        tool_name: t.tool_id,
      })),
    );
    const base = (this.config.env.PUBLIC_BASE_URL ?? origin).replace(/\/+$/, '');
    const out: Array<{ stored: StoredTool; view: ToolViewDto }> = [];
    for (const [i, t] of tools.entries()) {
      if (t.type === 'api_tool') {
        const d = api[i];
        if (!d) continue;
        out.push({
          stored: { type: 'api_tool', provider_id: d.provider.id, tool_id: t.tool_id, params: {} },
          view: {
            type: 'api_tool',
            provider: { ...d.provider, label: d.provider.name },
            tool: { ...d.tool, label: d.tool.name, params: {} },
          },
        });
        continue;
      }
      const provider = this.builtin.providers.find((p) => p.name === t.provider_id);
      const tool = provider?.tools.find((x) => x.name === t.tool_id);
      if (!provider || !tool) continue;
      const params = this.declaredParams(t);
      out.push({
        stored: { type: 'builtin_tool', provider_id: t.provider_id, tool_id: t.tool_id, params },
        view: {
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
            params,
          },
        },
      });
    }
    return out;
  }

  /** The account's published workflows among `ids`, in the order given. */
  private async workflowRefs(accountId: string, ids: string[]): Promise<RefViewDto[]> {
    const rows = await this.workflows.publishedAmong(accountId, ids);
    const byId = new Map(rows.map((w) => [w.id, w]));
    return ids.flatMap((id) => {
      const w = byId.get(id);
      return w ? [{ id: w.id, name: w.name, icon: w.icon, description: w.description }] : [];
    });
  }

  /** The account's datasets among `ids`, in the order given. */
  private async datasetRefs(accountId: string, ids: string[]): Promise<RefViewDto[]> {
    const rows = await this.datasets.entities(accountId, ids.filter(isUuid));
    const byId = new Map(rows.map((d) => [d.id, d]));
    return ids.flatMap((id) => {
      const d = byId.get(id);
      return d ? [{ id: d.id, name: d.name, icon: d.icon, description: d.description }] : [];
    });
  }
}
