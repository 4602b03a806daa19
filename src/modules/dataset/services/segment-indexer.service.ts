import { FailException, onceUntilFailure } from '@app/common';
import { AppConfig } from '@app/config';
import { Injectable, Logger } from '@nestjs/common';
import { setImmediate } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { EmbeddingService } from 'src/modules/model/runtime/embedding.service';
import { DatasetEntity } from '../entities/dataset.entity';
import { extractKeywords, searchTermList } from '../indexing/keywords';
import { TSVECTOR_PROBE, tsvectorLiteral } from '../indexing/tsvector';
import { RetrievalRepository } from '../retrieval/retrieval.repository';
import { binaryVectorArray } from './vector-array';

export interface IndexOptions {
  accountId: string;
  signal?: AbortSignal;
  /** After each chunk: segments written so far. */
  onProgress?: (done: number, total: number) => Promise<void> | void;
}

interface PreparedChunk {
  ids: string[];
  /** JSON arrays. */
  keywords: string[];
  /** Full-text vectors as literals, or null where PostgreSQL parses `terms` itself. */
  tsvectors: Array<string | null>;
  terms: Array<string | null>;
  /** Null in economy mode. */
  vectors: number[][] | null;
  dims: number | null;
}

/**
 * Chunk writes running at once, each its own statement (and connection): vector and full-text
 * index inserts are most of a write and one statement uses one core. A crash redoes at most this
 * many chunks. In bench/indexing, two took 20 % less time than one. PGlite has one connection
 * and one thread: there one chunk is written at a time (the next is still prepared meanwhile).
 */
const WRITES_IN_FLIGHT = 2;
/** Segments keyworded and segmented for full text between two turns of the event loop. */
const PREPARE_SLICE = 32;
/**
 * On PGlite the database runs on this thread: a statement holds every request of the process
 * until it ends (512 rows of 1536-dimensional vectors took about 15 s). There a chunk is written
 * in statements sized, from the ones before, to take about this long; openPglite gives the event
 * loop a turn before each one.
 */
const PGLITE_STATEMENT_MS = 50;
/** Rows in the first paced statement, before one has been timed. */
const PGLITE_FIRST_ROWS = 8;

/** How many rows the next paced statement writes, learned from the last one's time. */
class WritePace {
  rows = PGLITE_FIRST_ROWS;

  learn(rows: number, ms: number): void {
    const fit = Math.floor((PGLITE_STATEMENT_MS * rows) / Math.max(ms, 1));
    // At most double the rows just timed: one fast statement (a cache, short rows) must not make
    // the next one long.
    this.rows = Math.max(1, Math.min(fit, rows * 2));
  }
}

/** The vectors' dimensions do not match the dataset's: indexing would mix spaces. */
export class EmbeddingDimensionsError extends FailException {}

/**
 * Makes segments searchable: keywords and full-text terms (jieba) always, embeddings in
 * high_quality mode, in chunks, each chunk one UPDATE that also marks its segments completed — so
 * a crash loses at most the chunks being written, and a re-run only does what is left.
 */
@Injectable()
export class SegmentIndexer {
  private readonly logger = new Logger('SegmentIndexer');
  /**
   * Whether full-text vectors may be sent as literals: once per process, the server parses a probe
   * of every kind of term tsvectorLiteral accepts, and must get the same vector (a probe that
   * failed, e.g. on a lost connection, is asked again next time).
   */
  private readonly useLiterals = onceUntilFailure(() => this.probeLiterals());
  /**
   * pgvector's type oid on PostgreSQL, for vectors sent in binary (node-postgres sends Buffers as
   * binary); null on PGlite, where they go as text. Looked up once.
   */
  private readonly binaryVectorOid = onceUntilFailure(() => this.vectorTypeOid());

  constructor(
    private readonly dataSource: DataSource,
    private readonly embeddings: EmbeddingService,
    private readonly vectorIndex: RetrievalRepository,
    private readonly config: AppConfig,
  ) {}

  /**
   * Indexes `rows` in chunks of DATASET_INDEX_CHUNK (bounded memory, steady progress; a failure
   * or restart redoes at most WRITES_IN_FLIGHT chunks). Rows without `keywords` get ten extracted.
   * The chunks are pipelined: while PostgreSQL writes up to WRITES_IN_FLIGHT chunks (vector index
   * inserts are the costly part), the next one is keyworded, segmented for full text and embedded.
   */
  async index(
    dataset: DatasetEntity,
    rows: Array<{ id: string; content: string; keywords?: string[] }>,
    opts: IndexOptions,
  ): Promise<void> {
    const size = this.config.env.DATASET_INDEX_CHUNK;
    let done = 0;
    let reported = Promise.resolve();
    const writing: Array<Promise<void>> = [];
    const pace = this.config.usesPglite ? new WritePace() : null;
    try {
      for (let i = 0; i < rows.length; i += size) {
        opts.signal?.throwIfAborted();
        const chunk = rows.slice(i, i + size);
        const prepared = await this.prepare(dataset, chunk, opts);
        if (writing.length >= (pace ? 1 : WRITES_IN_FLIGHT)) await writing.shift();
        const write = this.write(prepared, pace).then(() => {
          done += chunk.length;
          const now = done;
          // One report at a time, in order: progress never goes back.
          reported = reported.then(() => opts.onProgress?.(now, rows.length));
          return reported;
        });
        // Awaited in turn below; a failure meanwhile must not count as unhandled.
        write.catch(() => undefined);
        writing.push(write);
      }
      for (const write of writing) await write;
    } catch (err) {
      // Never leave a write running behind a failure (its own error is the same or later).
      await Promise.allSettled(writing);
      throw err;
    }
  }

  private async prepare(
    dataset: DatasetEntity,
    chunk: Array<{ id: string; content: string; keywords?: string[] }>,
    opts: IndexOptions,
  ): Promise<PreparedChunk> {
    // The embedding requests go out first: the provider works while keywords and full-text
    // terms are computed here.
    const embedding =
      dataset.indexing_mode === 'high_quality'
        ? this.embeddings.embedDocuments(
            { provider: dataset.embedding_provider, model: dataset.embedding_model },
            chunk.map((r) => r.content),
            { accountId: opts.accountId, source: 'dataset.indexing', signal: opts.signal },
          )
        : null;
    // Awaited below; if the work here throws first, its failure must not count as unhandled.
    embedding?.catch(() => undefined);
    const literals = await this.useLiterals();
    const keywords: string[] = [];
    const tsvectors: Array<string | null> = [];
    const terms: Array<string | null> = [];
    for (let i = 0; i < chunk.length; i++) {
      // The event loop gets a turn between slices: the requests above go out and their answers
      // are read meanwhile, and the process's other work is not held up for a whole chunk.
      if (i > 0 && i % PREPARE_SLICE === 0) await setImmediate();
      const r = chunk[i];
      keywords.push(JSON.stringify(r.keywords ?? extractKeywords(r.content, 10)));
      const list = searchTermList(r.content);
      const literal = literals ? tsvectorLiteral(list) : null;
      tsvectors.push(literal);
      terms.push(literal === null ? list.join(' ') : null);
    }
    const ids = chunk.map((r) => r.id);
    if (embedding === null) return { ids, keywords, tsvectors, terms, vectors: null, dims: null };
    const vectors = await embedding;
    const dims = vectors[0].length;
    await this.fixDimensions(dataset, dims);
    return { ids, keywords, tsvectors, terms, vectors, dims };
  }

  /**
   * The chunk's keywords, full-text vectors, embeddings and `completed` status: one statement on
   * PostgreSQL; on PGlite (`pace`) statements of about PGLITE_STATEMENT_MS each, so that other
   * requests get the database, and the thread, in between.
   */
  private async write(c: PreparedChunk, pace: WritePace | null): Promise<void> {
    if (pace === null) return this.writeRows(c);
    for (let at = 0; at < c.ids.length;) {
      const n = Math.min(pace.rows, c.ids.length - at);
      const t0 = performance.now();
      await this.writeRows(slice(c, at, at + n));
      pace.learn(n, performance.now() - t0);
      at += n;
    }
  }

  /** One statement for the rows of `c`. */
  private async writeRows(c: PreparedChunk): Promise<void> {
    const oid = c.vectors ? await this.binaryVectorOid() : null;
    const embeddings =
      c.vectors === null
        ? c.ids.map(() => null)
        : oid !== null
          ? binaryVectorArray(c.vectors, oid)
          : c.vectors.map((v) => `[${v.join(',')}]`);
    await this.dataSource.query(
      `UPDATE segments s
          SET keywords = v.keywords::jsonb,
              search_vector = COALESCE(v.tsv::tsvector, to_tsvector('simple', v.terms)),
              embedding = v.embedding::vector,
              embedding_dims = $6,
              status = 'completed', error = '',
              indexing_completed_at = now(), completed_at = now(), updated_at = now()
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::${oid !== null ? 'vector[]' : 'text[]'})
              AS v(id, keywords, tsv, terms, embedding)
        WHERE s.id = v.id`,
      [c.ids, c.keywords, c.tsvectors, c.terms, embeddings, c.dims],
    );
  }

  private async vectorTypeOid(): Promise<number | null> {
    if (this.config.usesPglite) return null;
    const [row] = await this.dataSource.query<Array<{ oid: number }>>(
      `SELECT 'vector'::regtype::oid AS oid`,
    );
    return Number(row.oid);
  }

  private async probeLiterals(): Promise<boolean> {
    const [row] = await this.dataSource.query<Array<{ same: boolean }>>(
      `SELECT to_tsvector('simple', $1) = $2::tsvector AS same`,
      [TSVECTOR_PROBE.join(' '), tsvectorLiteral(TSVECTOR_PROBE)],
    );
    if (row?.same === true) return true;
    this.logger.warn('The database parses text differently: full-text vectors are built in SQL');
    return false;
  }

  /** The first vectors fix the dataset's dimensions (and their index); later ones must match. */
  private async fixDimensions(dataset: DatasetEntity, dims: number): Promise<void> {
    if (dataset.embedding_dims === dims) return;
    if (dataset.embedding_dims === null) {
      await this.vectorIndex.ensureVectorIndex(dims);
      await this.dataSource.query(
        `UPDATE datasets SET embedding_dims = $2 WHERE id = $1 AND embedding_dims IS NULL`,
        [dataset.id, dims],
      );
      const [row] = await this.dataSource.query<Array<{ embedding_dims: number | null }>>(
        `SELECT embedding_dims FROM datasets WHERE id = $1`,
        [dataset.id],
      );
      dataset.embedding_dims = row?.embedding_dims ?? dims;
      if (dataset.embedding_dims === dims) return;
    }
    throw new EmbeddingDimensionsError(
      `The embedding model returned ${dims}-dimensional vectors, but this dataset holds ${dataset.embedding_dims}-dimensional ones; use the model the dataset was indexed with`,
    );
  }
}

/** Rows [from, to) of a prepared chunk. */
function slice(c: PreparedChunk, from: number, to: number): PreparedChunk {
  return {
    ids: c.ids.slice(from, to),
    keywords: c.keywords.slice(from, to),
    tsvectors: c.tsvectors.slice(from, to),
    terms: c.terms.slice(from, to),
    vectors: c.vectors?.slice(from, to) ?? null,
    dims: c.dims,
  };
}
