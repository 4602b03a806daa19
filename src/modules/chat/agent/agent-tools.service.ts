import { ApiException, raceAbort, safeError } from '@app/common';
import { Injectable, Logger } from '@nestjs/common';
import { RetrievalService } from 'src/modules/dataset/retrieval/retrieval.service';
import type { AppRetrievalConfig, StoredTool } from 'src/modules/app/config/app-config.types';
import { toFunctionName, ToolRuntime } from 'src/modules/tool/runtime/tool-runtime.service';
import type { ResolvedTool, ToolRef } from 'src/modules/tool/runtime/tool.types';
import { DATASET_RETRIEVAL_TOOL } from './agent-prompts';
import type { AgentTool } from './agent.types';

/** What an app config binds (the draft in the debugger, the published version elsewhere). */
export interface AppBindings {
  tools: StoredTool[];
  /** Published workflows of the account, by id. */
  workflows: string[];
  /** Datasets of the account, by id. */
  datasets: string[];
  retrieval_config: AppRetrievalConfig;
}

const NO_HITS = 'No relevant content was found in the knowledge base.';

/**
 * Turns an app's bindings into the tools of its agent: builtin, API and MCP tools and published
 * workflows through the ToolRuntime (arguments checked, time and output bounded, failures as
 * `Error: ...`), and the datasets as one knowledge-base tool.
 *
 * Datasets are a tool, not context, as in the original: the model searches when a question needs
 * it (and with a query of its own), every search is a `dataset_retrieval` step the user sees, and
 * a question that needs no knowledge costs no embedding call.
 */
@Injectable()
export class AgentToolFactory {
  private readonly logger = new Logger('AgentTools');

  constructor(
    private readonly runtime: ToolRuntime,
    private readonly retrieval: RetrievalService,
  ) {}

  async forApp(accountId: string, appId: string | null, app: AppBindings): Promise<AgentTool[]> {
    const refs: ToolRef[] = [
      ...app.tools.map((t) => ({
        type: t.type,
        provider: t.provider_id,
        tool: t.tool_id,
        params: t.params,
      })),
      ...app.workflows.map((id) => ({ type: 'workflow' as const, provider: id, tool: '' })),
    ];
    const resolved = await Promise.all(refs.map((ref) => this.resolve(accountId, ref)));
    const tools = resolved
      .filter((t): t is ResolvedTool => t !== null)
      .map((t) => this.fromResolved(accountId, t));
    if (app.datasets.length)
      tools.push(this.datasetTool(accountId, appId, app.datasets, app.retrieval_config));
    return uniqueNames(tools);
  }

  /** A tool that disappeared or changed since the config was saved is left out of the turn. */
  private async resolve(accountId: string, ref: ToolRef): Promise<ResolvedTool | null> {
    try {
      return await this.runtime.resolve(accountId, ref);
    } catch (err) {
      if (err instanceof ApiException) return null;
      this.logger.warn(
        { err: safeError(err), ref: `${ref.type}/${ref.provider}` },
        'Tool left out',
      );
      return null;
    }
  }

  private fromResolved(accountId: string, tool: ResolvedTool): AgentTool {
    return {
      name: toFunctionName(tool.name),
      description: (tool.description || tool.label).slice(0, 1024),
      schema: tool.inputSchema,
      event: 'agent_action',
      call: async (args, signal) =>
        (await this.runtime.call(accountId, tool, args, { signal })).output,
    };
  }

  private datasetTool(
    accountId: string,
    appId: string | null,
    datasetIds: string[],
    config: AppRetrievalConfig,
  ): AgentTool {
    return {
      name: DATASET_RETRIEVAL_TOOL,
      description:
        'Searches the knowledge bases attached to this app and returns the most relevant passages. Use it when the question needs facts from those documents.',
      schema: {
        type: 'object',
        properties: {
          query: { type: 'string', description: 'What to look up, as a short search query' },
        },
        required: ['query'],
      },
      event: 'dataset_retrieval',
      call: async (args, signal) => {
        const query = typeof args.query === 'string' ? args.query.trim() : '';
        if (!query) return 'Error: invalid arguments: query must be a non-empty string';
        try {
          const hits = await raceAbort(
            this.retrieval.retrieve(accountId, {
              datasetIds,
              query: query.slice(0, 2000),
              strategy: config.retrieval_strategy,
              k: config.k,
              score: config.score,
              source: 'app',
              appId,
            }),
            signal,
          );
          return hits.length ? hits.map((h) => h.content).join('\n\n') : NO_HITS;
        } catch (err) {
          if (signal.aborted) throw err;
          this.logger.warn({ err: safeError(err) }, 'Knowledge-base search failed');
          return 'Error: the knowledge base search failed';
        }
      },
    };
  }
}

/** Function names must be unique: a later duplicate gets `_2`, `_3`... */
function uniqueNames(tools: AgentTool[]): AgentTool[] {
  const seen = new Set<string>();
  return tools.map((t) => {
    let name = t.name;
    for (let n = 2; seen.has(name); n++) name = `${t.name.slice(0, 60)}_${n}`;
    seen.add(name);
    return name === t.name ? t : { ...t, name };
  });
}
