import type { DatasetRetrievalNode } from 'src/modules/workflow/graph/graph.types';
import type { RetrievalHit, RetrieveInput } from 'src/modules/dataset/retrieval/retrieval.service';
import type { NodeExecution, NodeExecutionContext, NodeExecutor } from '../engine.types';
import { toText } from '../variables';

/** What the retrieval node needs of RetrievalService, so tests can pass a double. */
export interface Retriever {
  retrieve(accountId: string, input: RetrieveInput): Promise<RetrievalHit[]>;
}

/**
 * Searches the node's datasets (the account's only: others are ignored by the service) for the
 * `query` input; `combine_documents` is the hits' contents joined by blank lines, best first, as
 * the original's node does. Queries are logged with source `workflow`.
 */
export class DatasetRetrievalExecutor implements NodeExecutor<DatasetRetrievalNode> {
  constructor(private readonly retrieval: Retriever) {}

  async run(
    node: DatasetRetrievalNode,
    inputs: Record<string, unknown>,
    ctx: NodeExecutionContext,
  ): Promise<NodeExecution> {
    const query = toText(inputs.query).trim();
    if (!query || !node.dataset_ids?.length) return { outputs: { combine_documents: '' } };
    const config = node.retrieval_config ?? { retrieval_strategy: 'semantic', k: 4, score: 0 };
    const hits = await this.retrieval.retrieve(ctx.accountId, {
      datasetIds: node.dataset_ids,
      query,
      strategy: config.retrieval_strategy ?? 'semantic',
      k: config.k ?? 4,
      score: config.score ?? 0,
      source: 'workflow',
    });
    return { outputs: { combine_documents: hits.map((h) => h.content).join('\n\n') } };
  }
}
