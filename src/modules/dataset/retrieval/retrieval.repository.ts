import type { DatasetQuerySource } from '../entities/dataset-query.entity';
import { Injectable, Logger } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';

/** pgvector's `vector` type holds at most 16,000 dimensions. */
export const MAX_VECTOR_DIMS = 16_000;
/** Above this HNSW indexes `halfvec` (vector indexes stop at 2,000 dimensions). */
export const HALFVEC_FROM_DIMS = 2_001;
/** HNSW cannot index more than 4,000 halfvec dimensions: such datasets are searched exactly. */
const MAX_INDEXED_DIMS = 4_000;

/**
 * HNSW build and search parameters, measured in bench/retrieval.bench.ts (100,000 segments of 384
 * dimensions: recall@10 vs exact search and p95 latency; see docs/retrieval.md).
 */
export const HNSW_M = 16;
export const HNSW_EF_CONSTRUCTION = 64;
export const HNSW_EF_SEARCH = 100;

/** Advisory lock namespace of vector index creation (second key: the dimensions). */
const VECTOR_INDEX_LOCK = 748_213_902;
/** Terms of one query that reach the tsquery (a query is at most a few hundred characters). */
const MAX_QUERY_TERMS = 64;
/** Reciprocal rank fusion constant (Cormack et al.; what most hybrid searches use). */
export const RRF_K = 60;
/** Weights of the hybrid score reported to the user (the order comes from RRF). */
export const HYBRID_SEMANTIC_WEIGHT = 0.7;
export const HYBRID_TEXT_WEIGHT = 0.3;

/** Rejects anything but an integer 1..16000 before it is written into SQL (casts and DDL). */
export function checkDims(dims: number): number {
  if (!Number.isInteger(dims) || dims < 1 || dims > MAX_VECTOR_DIMS) {
    throw new Error(`Invalid embedding dimensions: ${String(dims)}`);
  }
  return dims;
}

/** The indexed expression for `dims`; every search must use exactly this to hit the index. */
function vectorType(dims: number): string {
  return dims >= HALFVEC_FROM_DIMS ? `halfvec(${dims})` : `vector(${dims})`;
}

const clamp01 = (x: number): number => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);

export interface SearchScope {
  accountId: string;
  datasetIds: string[];
  /** How many hits at most. */
  k: number;
  /** HNSW candidate list size (default HNSW_EF_SEARCH; never below k). The benchmark sweeps it. */
  efSearch?: number;
}

/** A segment id with its score (0..1), best first. */
export interface ScoredId {
  id: string;
  score: number;
}

export interface HybridScoredId extends ScoredId {
  semantic: number;
  text: number;
  rrf: number;
}

/** A returned segment with its document, as the routes and the agents use it. */
export interface SegmentHitRow {
  id: string;
  account_id: string;
  dataset_id: string;
  document_id: string;
  position: number;
  content: string;
  keywords: string[];
  character_count: number;
  token_count: number;
  hit_count: number;
  enabled: boolean;
  disabled_at: Date | null;
  status: string;
  error: string;
  created_at: Date;
  updated_at: Date;
  document_name: string;
  document_extension: string;
  document_mime_type: string;
}

export interface QueryLogRow {
  id: string;
  dataset_id: string;
  query: string;
  source: DatasetQuerySource;
  created_at: Date;
}

/**
 * What every search returns: the account's segments, enabled and indexed, of enabled and indexed
 * documents. `$1` = account id, `$2` = dataset ids.
 */
const VISIBLE = `
  s.account_id = $1 AND s.dataset_id = ANY($2::uuid[])
  AND s.enabled AND s.status = 'completed'
  AND EXISTS (
    SELECT 1 FROM documents d
    WHERE d.id = s.document_id AND d.account_id = s.account_id AND d.enabled AND d.status = 'completed'
  )`;

/**
 * Retrieval SQL: vector search on per-dimension partial HNSW indexes, full-text search on the
 * jieba-segmented tsvector, their fusion, hit counters and the query log. Raw SQL, every value
 * bound; the only things written into SQL text are validated integers (dimensions, limits).
 */
@Injectable()
export class RetrievalRepository {
  private readonly logger = new Logger(RetrievalRepository.name);
  /** Dimensions whose index exists (or is being made) in this process. */
  private readonly indexed = new Map<number, Promise<void>>();

  constructor(private readonly dataSource: DataSource) {}

  /**
   * Makes the partial HNSW index of one dimension if missing: idempotent, serialized across
   * processes by an advisory lock (two workers meeting a new model at once build it once), and
   * remembered here. Call before writing vectors of a new dimension: the build scans `segments`
   * under a SHARE lock, quick while no row has the dimension yet.
   */
  ensureVectorIndex(dims: number): Promise<void> {
    checkDims(dims);
    if (dims > MAX_INDEXED_DIMS) return Promise.resolve();
    let pending = this.indexed.get(dims);
    if (!pending) {
      pending = this.createVectorIndex(dims);
      this.indexed.set(dims, pending);
      pending.catch(() => this.indexed.delete(dims)); // a failure is retried by the next call
    }
    return pending;
  }

  private async createVectorIndex(dims: number): Promise<void> {
    const type = vectorType(dims);
    const ops = dims >= HALFVEC_FROM_DIMS ? 'halfvec_cosine_ops' : 'vector_cosine_ops';
    await this.dataSource.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1, $2)', [VECTOR_INDEX_LOCK, dims]);
      await m.query(
        `CREATE INDEX IF NOT EXISTS idx_segments_embedding_${dims} ON segments ` +
          `USING hnsw ((embedding::${type}) ${ops}) ` +
          `WITH (m = ${HNSW_M}, ef_construction = ${HNSW_EF_CONSTRUCTION}) ` +
          `WHERE embedding_dims = ${dims}`,
      );
    });
    this.logger.log(`Vector index for ${dims} dimensions ready`);
  }

  /**
   * Nearest segments by cosine distance among those of `vector.length` dimensions. The HNSW scan
   * is iterative (pgvector 0.8): when the filters drop candidates it keeps walking the graph
   * instead of returning fewer than k. The graph is approximate, though: a scan can stop short
   * of k (a node no other links to any more, or hnsw.max_scan_tuples spent on other datasets'
   * rows). Then the scope is searched exactly: fewer than k means the scope has fewer, and the
   * scope that under-fills is small or mostly filtered out, which an exact pass reads quickly.
   */
  async semantic(
    scope: SearchScope,
    vector: number[],
    manager?: EntityManager,
  ): Promise<ScoredId[]> {
    if (!scope.datasetIds.length || !vector.length) return [];
    const { sql, exactSql, params } = this.semanticSql(scope, vector);
    const rows = await this.inSearchTransaction(scope, manager, async (m) => {
      const found = await m.query<Array<{ id: string; distance: number }>>(sql, params);
      if (found.length >= limit(scope.k)) return found;
      return m.query<Array<{ id: string; distance: number }>>(exactSql, params);
    });
    // relaxed_order may return neighbours slightly out of order: sort the k we got.
    return rows
      .map((r) => ({ id: r.id, score: clamp01(1 - Number(r.distance)) }))
      .sort((a, b) => b.score - a.score);
  }

  /** The plan of the semantic query (tests and the benchmark check that the index is used). */
  async explainSemantic(
    scope: SearchScope,
    vector: number[],
    manager?: EntityManager,
    analyze = false,
  ): Promise<string> {
    const { sql, params } = this.semanticSql(scope, vector);
    const rows = await this.inSearchTransaction(scope, manager, (m) =>
      m.query<Array<{ 'QUERY PLAN': string }>>(
        `EXPLAIN ${analyze ? '(ANALYZE) ' : ''}${sql}`,
        params,
      ),
    );
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  }

  /**
   * The HNSW search (`sql`) and the same ranking computed for every row in scope (`exactSql`),
   * both over `params`.
   */
  private semanticSql(
    scope: SearchScope,
    vector: number[],
  ): { sql: string; exactSql: string; params: unknown[] } {
    const dims = checkDims(vector.length);
    const type = vectorType(dims);
    const k = limit(scope.k);
    // `embedding_dims = <literal>` and the exact indexed expression let the planner match the
    // partial index of this dimension; other dimensions' rows are never cast.
    const scoped = `
      SELECT s.id, s.embedding::${type} <=> $3::${type} AS distance
      FROM segments s
      WHERE s.embedding_dims = ${dims} AND ${VISIBLE}`;
    return {
      sql: `${scoped}
      ORDER BY s.embedding::${type} <=> $3::${type}
      LIMIT ${k}`,
      // OFFSET 0 keeps the ORDER BY out of the subquery: the index cannot serve it.
      exactSql: `SELECT id, distance FROM (${scoped}
      OFFSET 0) x
      ORDER BY distance, id
      LIMIT ${k}`,
      params: [scope.accountId, scope.datasetIds, toVectorLiteral(vector)],
    };
  }

  /** Runs a vector search with iterative scans and an ef_search of at least k, in a transaction. */
  private async inSearchTransaction<T>(
    scope: SearchScope,
    manager: EntityManager | undefined,
    work: (m: EntityManager) => Promise<T>,
  ): Promise<T> {
    const ef = Math.max(limit(scope.efSearch ?? HNSW_EF_SEARCH), limit(scope.k));
    const run = async (m: EntityManager) => {
      // Transaction-local (set_config(..., true) = SET LOCAL), one round trip for both.
      await m.query(
        `SELECT set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)`,
        [String(ef)],
      );
      return work(m);
    };
    return manager ? run(manager) : this.dataSource.transaction(run);
  }

  /**
   * Segments matching any of the terms, ranked by ts_rank_cd (cover density) normalized to 0..1
   * as rank / (rank + 1). Each term becomes its own `plainto_tsquery`, bound as a parameter and
   * OR-ed in SQL: user text never passes through tsquery syntax.
   */
  async fullText(scope: SearchScope, terms: string[]): Promise<ScoredId[]> {
    const words = queryWords(terms);
    if (!scope.datasetIds.length || !words.length) return [];
    const rows = await this.dataSource.query<Array<{ id: string; rank: number }>>(
      `SELECT s.id, ts_rank_cd(s.search_vector, q.q, 32) AS rank
       FROM segments s, (SELECT ${orTsquery(words.length, 3)} AS q) q
       WHERE s.search_vector @@ q.q AND ${VISIBLE}
       ORDER BY rank DESC, s.id
       LIMIT ${limit(scope.k)}`,
      [scope.accountId, scope.datasetIds, ...words],
    );
    return rows.map((r) => ({ id: r.id, score: clamp01(Number(r.rank)) }));
  }

  /**
   * Both searches (each for `candidates` hits), fused by reciprocal rank fusion for the order.
   * The reported score is 0.7 x cosine similarity + 0.3 x the keyword rank relative to the best
   * keyword rank among the candidates (1 for the best match, 0 for none), computed for every
   * candidate whichever list it came from, so it is comparable with semantic scores.
   */
  async hybrid(
    scope: SearchScope,
    vector: number[],
    terms: string[],
    candidates: number,
  ): Promise<HybridScoredId[]> {
    const wide = { ...scope, k: candidates };
    const [sem, text] = await Promise.all([
      this.semantic(wide, vector),
      this.fullText(wide, terms),
    ]);
    const rrf = new Map<string, number>();
    const add = (list: ScoredId[]) =>
      list.forEach((h, i) => rrf.set(h.id, (rrf.get(h.id) ?? 0) + 1 / (RRF_K + i + 1)));
    add(sem);
    add(text);
    if (!rrf.size) return [];
    const ids = [...rrf.keys()];
    const semScore = new Map(sem.map((h) => [h.id, h.score]));
    const textRank = new Map(text.map((h) => [h.id, h.score]));
    // Candidates found by one list only: score them on the other side too.
    const missingSem = ids.filter((id) => !semScore.has(id));
    const missingText = ids.filter((id) => !textRank.has(id));
    const dims = checkDims(vector.length);
    const type = vectorType(dims);
    const words = queryWords(terms);
    // Both lookups at once (separate pool connections on PostgreSQL).
    await Promise.all([
      missingSem.length &&
        this.dataSource
          .query<Array<{ id: string; distance: number | null }>>(
            `SELECT id, CASE WHEN embedding_dims = ${dims} THEN embedding::${type} <=> $2::${type} END AS distance
             FROM segments WHERE id = ANY($1::uuid[])`,
            [missingSem, toVectorLiteral(vector)],
          )
          .then((rows) => {
            for (const r of rows) {
              semScore.set(r.id, r.distance === null ? 0 : clamp01(1 - Number(r.distance)));
            }
          }),
      missingText.length &&
        words.length &&
        this.dataSource
          .query<Array<{ id: string; rank: number }>>(
            `SELECT s.id, CASE WHEN s.search_vector @@ q.q THEN ts_rank_cd(s.search_vector, q.q, 32) ELSE 0 END AS rank
             FROM segments s, (SELECT ${orTsquery(words.length, 2)} AS q) q WHERE s.id = ANY($1::uuid[])`,
            [missingText, ...words],
          )
          .then((rows) => {
            for (const r of rows) textRank.set(r.id, clamp01(Number(r.rank)));
          }),
    ]);
    const best = Math.max(0, ...textRank.values());
    return ids
      .map((id) => {
        const semantic = semScore.get(id) ?? 0;
        const text = best > 0 ? (textRank.get(id) ?? 0) / best : 0;
        return {
          id,
          semantic,
          text,
          rrf: rrf.get(id)!,
          score: clamp01(HYBRID_SEMANTIC_WEIGHT * semantic + HYBRID_TEXT_WEIGHT * text),
        };
      })
      .sort((a, b) => b.rrf - a.rrf || b.score - a.score);
  }

  /** The segments (with their document) of `ids`, in no particular order. */
  async segments(accountId: string, ids: string[]): Promise<SegmentHitRow[]> {
    if (!ids.length) return [];
    return this.dataSource.query<SegmentHitRow[]>(
      `SELECT s.id, s.account_id, s.dataset_id, s.document_id, s.position, s.content, s.keywords,
              s.character_count, s.token_count, s.hit_count, s.enabled, s.disabled_at, s.status,
              s.error, s.created_at, s.updated_at,
              d.name AS document_name,
              coalesce(u.extension, '') AS document_extension,
              coalesce(u.mime_type, '') AS document_mime_type
       FROM segments s
       JOIN documents d ON d.id = s.document_id
       LEFT JOIN upload_files u ON u.id = d.upload_file_id
       WHERE s.account_id = $1 AND s.id = ANY($2::uuid[])`,
      [accountId, ids],
    );
  }

  /**
   * After a retrieval, in one transaction: +1 hit for each returned segment and for each of
   * their documents (once per retrieval), and one query-log row per dataset searched. Answers
   * the segments' new hit counts.
   */
  async recordRetrieval(input: {
    accountId: string;
    datasetIds: string[];
    segmentIds: string[];
    query: string;
    source: DatasetQuerySource;
    appId: string | null;
  }): Promise<Map<string, number>> {
    return this.dataSource.transaction(async (m) => {
      const counts = new Map<string, number>();
      if (input.segmentIds.length) {
        const rows = await m.query<[Array<{ id: string; hit_count: number }>, number]>(
          `UPDATE segments SET hit_count = hit_count + 1
           WHERE account_id = $1 AND id = ANY($2::uuid[]) RETURNING id, hit_count`,
          [input.accountId, input.segmentIds],
        );
        for (const r of rows[0]) counts.set(r.id, Number(r.hit_count));
        await m.query(
          `UPDATE documents SET hit_count = hit_count + 1
           WHERE account_id = $1 AND id IN (
             SELECT DISTINCT document_id FROM segments WHERE account_id = $1 AND id = ANY($2::uuid[]))`,
          [input.accountId, input.segmentIds],
        );
      }
      if (input.datasetIds.length) {
        await m.query(
          `INSERT INTO dataset_queries (account_id, dataset_id, query, source, source_app_id)
           SELECT $1, unnest($2::uuid[]), $3, $4, $5`,
          [
            input.accountId,
            input.datasetIds,
            input.query.slice(0, 1000),
            input.source,
            input.appId,
          ],
        );
      }
      return counts;
    });
  }

  /** The latest `limit` queries of a dataset, newest first. */
  recentQueries(accountId: string, datasetId: string, limit: number): Promise<QueryLogRow[]> {
    return this.dataSource.query<QueryLogRow[]>(
      `SELECT id, dataset_id, query, source, created_at FROM dataset_queries
       WHERE account_id = $1 AND dataset_id = $2
       ORDER BY created_at DESC, id DESC LIMIT $3`,
      [accountId, datasetId, limit],
    );
  }
}

/** The distinct non-blank terms of a query, bounded. */
function queryWords(terms: string[]): string[] {
  return [...new Set(terms.filter((t) => t.trim()))].slice(0, MAX_QUERY_TERMS);
}

/**
 * `plainto_tsquery('simple', $first) || …` for `count` bound terms: plainto_tsquery takes plain
 * text (no operators), so whatever a term contains it only ever matches words.
 */
function orTsquery(count: number, first: number): string {
  return Array.from({ length: count }, (_, i) => `plainto_tsquery('simple', $${first + i})`).join(
    ' || ',
  );
}

/** A positive integer limit, bounded (it is written into SQL). */
function limit(k: number): number {
  return Math.min(1000, Math.max(1, Math.floor(Number.isFinite(k) ? k : 1)));
}

/** pgvector's text form; non-finite components are refused (they would poison distances). */
export function toVectorLiteral(vector: number[]): string {
  if (vector.some((x) => !Number.isFinite(x))) throw new Error('A vector component is not finite');
  return `[${vector.join(',')}]`;
}
