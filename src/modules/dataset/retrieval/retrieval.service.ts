import type { DatasetQuerySource } from '../entities/dataset-query.entity';
import { isUuid, NotFoundError } from '@app/common';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { EmbeddingService } from 'src/modules/model/runtime/embedding.service';
import type { RetrievalStrategy } from '../entities/dataset.entity';
import { searchQuery } from '../indexing/keywords';
import {
  QueryLogRow,
  RetrievalRepository,
  SearchScope,
  SegmentHitRow,
} from './retrieval.repository';

export interface RetrieveInput {
  datasetIds: string[];
  query: string;
  strategy: RetrievalStrategy;
  /** 1..10 hits at most. */
  k: number;
  /** Minimum score 0..1 of semantic and hybrid hits. */
  score: number;
  source: DatasetQuerySource;
  appId?: string | null;
}

export interface RetrievalHit extends Omit<
  SegmentHitRow,
  'document_name' | 'document_extension' | 'document_mime_type'
> {
  /** 0..1: cosine similarity (semantic), normalized keyword rank (full text) or the hybrid blend. */
  score: number;
  document: { id: string; name: string; extension: string; mime_type: string };
}

interface SearchableDataset {
  id: string;
  indexing_mode: string;
  embedding_provider: string;
  embedding_model: string;
}

/** Hybrid: how many candidates each side brings before fusion, per requested hit. */
const HYBRID_CANDIDATES_PER_HIT = 4;
const HYBRID_MIN_CANDIDATES = 20;

/**
 * Retrieval over an account's datasets, for hit testing, apps and workflows.
 * - Datasets are grouped by embedding model: the query is embedded once per model and each group
 *   searched on its dimension's index; groups are merged by score.
 * - `economy` datasets have no embeddings: they are searched full-text whatever the strategy.
 * - The score threshold applies to semantic and hybrid scores (full-text ranks are not
 *   similarities, so a threshold would mean nothing there).
 * - Ids of datasets the account does not own are ignored (never searched, never logged).
 */
@Injectable()
export class RetrievalService {
  constructor(
    private readonly repo: RetrievalRepository,
    private readonly embeddings: EmbeddingService,
    private readonly dataSource: DataSource,
  ) {}

  async retrieve(accountId: string, input: RetrieveInput): Promise<RetrievalHit[]> {
    const k = Math.min(10, Math.max(1, Math.floor(input.k)));
    const threshold = Math.min(1, Math.max(0, input.score));
    const datasets = await this.ownedDatasets(accountId, input.datasetIds);
    if (!datasets.length) return [];
    const terms = searchQuery(input.query);

    const scored: Array<{ id: string; score: number }> = [];
    // Keyword-only datasets, and every dataset when the strategy is full text.
    const economy = datasets.filter(
      (d) => input.strategy === 'full_text' || d.indexing_mode === 'economy' || !d.embedding_model,
    );
    const groups = new Map<string, SearchableDataset[]>();
    for (const d of datasets) {
      if (economy.includes(d)) continue;
      const key = JSON.stringify([d.embedding_provider, d.embedding_model]);
      groups.set(key, [...(groups.get(key) ?? []), d]);
    }
    const scopeOf = (list: SearchableDataset[]): SearchScope => ({
      accountId,
      datasetIds: list.map((d) => d.id),
      k,
    });

    if (economy.length) scored.push(...(await this.repo.fullText(scopeOf(economy), terms)));
    for (const list of groups.values()) {
      const scope = scopeOf(list);
      const vector = await this.embeddings.embedQuery(
        { provider: list[0].embedding_provider, model: list[0].embedding_model },
        input.query,
        {
          accountId,
          source: input.source === 'hit_testing' ? 'dataset.hit_testing' : 'dataset.retrieval',
        },
      );
      const hits =
        input.strategy === 'semantic'
          ? await this.repo.semantic(scope, vector)
          : await this.repo.hybrid(
              scope,
              vector,
              terms,
              Math.max(HYBRID_MIN_CANDIDATES, k * HYBRID_CANDIDATES_PER_HIT),
            );
      // Hybrid hits keep their fused order within the group; the threshold cuts on the score.
      scored.push(...hits.filter((h) => h.score >= threshold).slice(0, k));
    }

    // One group keeps its own order (RRF for hybrid); several are merged by score.
    const ordered =
      groups.size + (economy.length ? 1 : 0) > 1
        ? [...scored].sort((a, b) => b.score - a.score)
        : scored;
    const seen = new Set<string>();
    const top = ordered.filter((h) => !seen.has(h.id) && seen.add(h.id)).slice(0, k);

    const counts = await this.repo.recordRetrieval({
      accountId,
      datasetIds: datasets.map((d) => d.id),
      segmentIds: top.map((h) => h.id),
      query: input.query,
      source: input.source,
      appId: input.appId ?? null,
    });
    const rows = new Map(
      (
        await this.repo.segments(
          accountId,
          top.map((h) => h.id),
        )
      ).map((r) => [r.id, r]),
    );
    return top.flatMap((h) => {
      const row = rows.get(h.id);
      if (!row) return []; // deleted between the search and now
      const { document_name, document_extension, document_mime_type, ...segment } = row;
      return [
        {
          ...segment,
          hit_count: counts.get(h.id) ?? segment.hit_count,
          score: h.score,
          document: {
            id: row.document_id,
            name: document_name,
            extension: document_extension,
            mime_type: document_mime_type,
          },
        },
      ];
    });
  }

  /** One of the account's datasets, or not_found. */
  async assertOwned(accountId: string, datasetId: string): Promise<void> {
    if (!(await this.ownedDatasets(accountId, [datasetId])).length) {
      throw new NotFoundError('The dataset does not exist');
    }
  }

  recentQueries(accountId: string, datasetId: string): Promise<QueryLogRow[]> {
    return this.repo.recentQueries(accountId, datasetId, 10);
  }

  private async ownedDatasets(accountId: string, ids: string[]): Promise<SearchableDataset[]> {
    const valid = [...new Set(ids.filter((id) => isUuid(id)))];
    if (!valid.length) return [];
    return this.dataSource.query<SearchableDataset[]>(
      `SELECT id, indexing_mode, embedding_provider, embedding_model FROM datasets
       WHERE account_id = $1 AND id = ANY($2::uuid[]) ORDER BY id`,
      [accountId, valid],
    );
  }
}
