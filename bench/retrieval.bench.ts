import { buildDataSourceOptions, openPglite, runMigrations } from '@app/database';
import { Logger } from '@nestjs/common';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import {
  HNSW_EF_CONSTRUCTION,
  HNSW_EF_SEARCH,
  HNSW_M,
  RetrievalRepository,
  SearchScope,
} from 'src/modules/dataset/retrieval/retrieval.repository';

/**
 * Retrieval at size: N segments of 384 dimensions (synthetic clustered vectors, words per
 * cluster for full text) in two datasets of one account, 90% / 10% of the rows. Measures p95
 * latency of semantic, full-text and hybrid queries through RetrievalRepository and recall@10 of
 * the HNSW index against exact search (the same query with index scans disabled, same run), on
 * PostgreSQL, then on PGlite at growing sizes to find where embedded mode stops being usable.
 */

const N = Number(process.env.BENCH_SEGMENTS ?? 100_000);
const DIMS = Number(process.env.BENCH_DIMS ?? 384);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 200);
const CLUSTERS = Number(process.env.BENCH_CLUSTERS ?? 200);
/**
 * Length of the noise added to a unit cluster centre (before normalizing): 0.8 puts a point at
 * cosine ~0.78 from its centre and ~0.6 from its cluster mates, so neighbours are not trivial.
 */
const NOISE = Number(process.env.BENCH_NOISE ?? 0.8);
const EF_SWEEP = (process.env.BENCH_EF ?? `40,${HNSW_EF_SEARCH},200`)
  .split(',')
  .map(Number)
  .filter((x) => x > 0);
const PGLITE_SIZES = (process.env.BENCH_PGLITE_SIZES ?? '1000,5000,20000')
  .split(',')
  .map(Number)
  .filter((x) => x > 0);
const PGLITE_QUERIES = Number(process.env.BENCH_PGLITE_QUERIES ?? 50);
const K = 10;
const ADMIN_DATABASE_URL =
  process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** The targets (PostgreSQL, 100,000 segments of 384 dimensions). */
const TARGET_P95_MS = 25;
const TARGET_RECALL = 0.95;
/**
 * Embedded mode is "usable" while a hybrid retrieval (the slowest kind) answers within this p95:
 * one retrieval is one step of an agent turn, which also waits for a model; past ~100 ms the
 * database, single-threaded in the service's own process, starts to be what users wait for and
 * blocks every other request meanwhile.
 */
const EMBEDDED_USABLE_P95_MS = 100;

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');
const f3 = (n: number) => (Number.isFinite(n) ? n.toFixed(3) : '-');
const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

/** Deterministic PRNG (mulberry32) and a normal sample, so runs compare. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
}
function normalize(v: number[]): number[] {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  return v.map((x) => Math.fround(x / n));
}

class Corpus {
  private readonly r = rng(42);
  readonly centres: number[][];
  constructor() {
    this.centres = Array.from({ length: CLUSTERS }, () =>
      normalize(Array.from({ length: DIMS }, () => gauss(this.r))),
    );
  }
  /** A point of cluster `c`: centre + isotropic noise, normalized. */
  vector(c: number, r = this.r): number[] {
    const sigma = NOISE / Math.sqrt(DIMS);
    return normalize(this.centres[c].map((x) => x + gauss(r) * sigma));
  }
  /** Words of a segment: a few of its cluster's topic words and some common ones. */
  text(c: number, i: number, r = this.r): string {
    const topic = Array.from({ length: 4 }, () => `t${c}w${Math.floor(r() * 20)}`);
    const common = Array.from({ length: 12 }, () => `c${Math.floor(r() * 500)}`);
    return [...topic, ...common, `seg${i}`].join(' ');
  }
}

interface Seeded {
  accountId: string;
  big: string;
  small: string;
}

/** Bulk insert: multi-row INSERT … SELECT FROM unnest(arrays), a few thousand rows a statement. */
async function seed(ds: DataSource, corpus: Corpus, n: number, batch = 2000): Promise<Seeded> {
  const accountId = randomUUID();
  const make = async (share: number) => {
    const [d] = await ds.query<Array<{ id: string }>>(
      `INSERT INTO datasets (account_id, name, embedding_provider, embedding_model, embedding_dims, retrieval_config)
       VALUES ($1, $2, 'openai', 'bench', $3, '{}') RETURNING id`,
      [accountId, `bench-${randomBytes(4).toString('hex')}`, DIMS],
    );
    const [doc] = await ds.query<Array<{ id: string }>>(
      `INSERT INTO documents (account_id, dataset_id, upload_file_id, batch, name, position, process_rule, status)
       VALUES ($1, $2, $3, 'b', 'bench.txt', 1, '{}', 'completed') RETURNING id`,
      [accountId, d.id, randomUUID()],
    );
    return { id: d.id, doc: doc.id, rows: Math.round(n * share) };
  };
  const big = await make(0.9);
  const small = await make(0.1);
  let position = 0;
  for (const target of [big, small]) {
    for (let done = 0; done < target.rows; done += batch) {
      const size = Math.min(batch, target.rows - done);
      const contents: string[] = [];
      const vectors: string[] = [];
      const positions: number[] = [];
      for (let i = 0; i < size; i++) {
        const c = Math.floor(rngShared() * CLUSTERS);
        position += 1;
        positions.push(position);
        contents.push(corpus.text(c, position));
        vectors.push(`[${corpus.vector(c).join(',')}]`);
      }
      await ds.query(
        `INSERT INTO segments (account_id, dataset_id, document_id, position, content, hash, status,
                               embedding, embedding_dims, search_vector)
         SELECT $1, $2, $3, p, c, '', 'completed', v::vector, ${DIMS}, to_tsvector('simple', c)
         FROM unnest($4::int[], $5::text[], $6::text[]) AS u(p, c, v)`,
        [accountId, target.id, target.doc, positions, contents, vectors],
      );
    }
  }
  await ds.query('ANALYZE segments');
  return { accountId, big: big.id, small: small.id };
}
const rngShared = rng(7);

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const out = await fn();
  return [out, performance.now() - t0];
}

interface Query {
  vector: number[];
  terms: string[];
}

function queries(corpus: Corpus, count: number): Query[] {
  const r = rng(1234);
  return Array.from({ length: count }, () => {
    const c = Math.floor(r() * CLUSTERS);
    return {
      vector: corpus.vector(c, r),
      terms: [`t${c}w${Math.floor(r() * 20)}`, `c${Math.floor(r() * 500)}`],
    };
  });
}

interface Measured {
  recall: number;
  semP50: number;
  semP95: number;
  /** Execution time inside the database (EXPLAIN ANALYZE), p95. */
  serverP95: number;
  textP95: number;
  hybridP95: number;
  exactP95: number;
}

/** Exact top-k: the same repository query with index scans off (a scan of the rows and a sort). */
async function exact(ds: DataSource, repo: RetrievalRepository, scope: SearchScope, q: Query) {
  return ds.transaction(async (m) => {
    await m.query('SET LOCAL enable_indexscan = off');
    return repo.semantic(scope, q.vector, m);
  });
}

async function measure(
  ds: DataSource,
  repo: RetrievalRepository,
  scope: SearchScope,
  qs: Query[],
  efSearch: number,
  withTextAndHybrid: boolean,
): Promise<Measured> {
  const sem: number[] = [];
  const text: number[] = [];
  const hyb: number[] = [];
  const ex: number[] = [];
  /** The database's own execution time of the semantic query (EXPLAIN ANALYZE), without round trips. */
  const server: number[] = [];
  let hits = 0;
  // Warm the caches (the index and the heap pages) like a running service.
  for (const q of qs.slice(0, 5)) await repo.semantic({ ...scope, efSearch }, q.vector);
  for (const q of qs) {
    const [approx, ms] = await timed(() => repo.semantic({ ...scope, efSearch }, q.vector));
    sem.push(ms);
    const plan = await repo.explainSemantic({ ...scope, efSearch }, q.vector, undefined, true);
    server.push(Number(/Execution Time: ([\d.]+) ms/.exec(plan)?.[1] ?? NaN));
    const [truth, exMs] = await timed(() => exact(ds, repo, scope, q));
    ex.push(exMs);
    const want = new Set(truth.map((h) => h.id));
    hits += approx.filter((h) => want.has(h.id)).length / Math.max(1, want.size);
    if (withTextAndHybrid) {
      text.push((await timed(() => repo.fullText(scope, q.terms)))[1]);
      hyb.push(
        (await timed(() => repo.hybrid({ ...scope, efSearch }, q.vector, q.terms, K * 4)))[1],
      );
    }
  }
  return {
    recall: hits / qs.length,
    semP50: percentile(sem, 50),
    semP95: percentile(sem, 95),
    serverP95: percentile(server, 95),
    textP95: percentile(text, 95),
    hybridP95: percentile(hyb, 95),
    exactP95: percentile(ex, 95),
  };
}

const HEADER =
  'scope              ef_search  recall@10  semantic p50/p95 ms  (in db p95)  full-text p95  hybrid p95  exact p95  exact/hnsw';
function row(label: string, ef: number, m: Measured): string {
  return [
    label.padEnd(18),
    String(ef).padStart(9),
    f3(m.recall).padStart(10),
    `${f2(m.semP50)} / ${f2(m.semP95)}`.padStart(20),
    `(${f2(m.serverP95)})`.padStart(12),
    f2(m.textP95).padStart(14),
    f2(m.hybridP95).padStart(11),
    f2(m.exactP95).padStart(10),
    `${f1(m.exactP95 / m.semP95)}x`.padStart(11),
  ].join(' ');
}

async function postgres(corpus: Corpus): Promise<void> {
  const dbName = `llmops_bench_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  let ds: DataSource | undefined;
  try {
    await admin.query(`CREATE DATABASE ${dbName}`);
    // The index build of 100k x 384 floats wants its graph in memory (pgvector warns otherwise).
    await admin.query(`ALTER DATABASE ${dbName} SET maintenance_work_mem = '512MB'`);
    const u = new URL(ADMIN_DATABASE_URL);
    u.pathname = `/${dbName}`;
    ds = new DataSource(buildDataSourceOptions({ url: u.toString(), poolMax: 4 }));
    await ds.initialize();
    await runMigrations(ds, { useLock: false });
    const repo = new RetrievalRepository(ds);

    console.log(
      `\n## scale mode: PostgreSQL, ${N} segments x ${DIMS} dims, ${CLUSTERS} clusters, ` +
        `${QUERIES} queries, k=${K}, HNSW m=${HNSW_M} ef_construction=${HNSW_EF_CONSTRUCTION}`,
    );
    const [seeded, seedMs] = await timed(() => seed(ds!, corpus, N));
    const [, buildMs] = await timed(() => repo.ensureVectorIndex(DIMS));
    const [{ size }] = await ds.query<Array<{ size: string }>>(
      `SELECT pg_size_pretty(pg_relation_size('idx_segments_embedding_${DIMS}')) AS size`,
    );
    console.log(
      `bulk insert ${f1(seedMs / 1000)} s (${Math.round(N / (seedMs / 1000))} rows/s), ` +
        `index build ${f1(buildMs / 1000)} s, index size ${size}`,
    );
    const qs = queries(corpus, QUERIES);
    const big: SearchScope = { accountId: seeded.accountId, datasetIds: [seeded.big], k: K };
    const small: SearchScope = { accountId: seeded.accountId, datasetIds: [seeded.small], k: K };
    const plan = await repo.explainSemantic(big, qs[0].vector);
    const usesIndex = plan.includes(`Index Scan using idx_segments_embedding_${DIMS}`);
    console.log(
      `load average during the run: ${loadavg().map(f1).join(' ')} (other processes share the cores)`,
    );
    console.log(HEADER);
    let chosen: Measured | undefined;
    for (const ef of EF_SWEEP) {
      const m = await measure(ds, repo, big, qs, ef, ef === HNSW_EF_SEARCH);
      if (ef === HNSW_EF_SEARCH) chosen = m;
      console.log(row('90% of rows', ef, m));
    }
    const filtered = await measure(ds, repo, small, qs.slice(0, 100), HNSW_EF_SEARCH, true);
    console.log(row('10% (filtered)', HNSW_EF_SEARCH, filtered));
    console.log(
      `${pass(usesIndex)} the semantic query is planned on idx_segments_embedding_${DIMS} (no hints)`,
    );
    console.log(
      `${pass(chosen!.semP95 < TARGET_P95_MS)} semantic p95 ${f2(chosen!.semP95)} ms < ${TARGET_P95_MS} ms ` +
        `(ef_search=${HNSW_EF_SEARCH}; ${f1(chosen!.exactP95 / chosen!.semP95)}x faster than exact)`,
    );
    console.log(
      `${pass(chosen!.hybridP95 < TARGET_P95_MS)} hybrid p95 ${f2(chosen!.hybridP95)} ms < ${TARGET_P95_MS} ms`,
    );
    console.log(
      `${pass(chosen!.recall >= TARGET_RECALL)} recall@10 ${f3(chosen!.recall)} >= ${TARGET_RECALL} ` +
        `(vs exact search in the same run)`,
    );
    console.log(
      `${pass(filtered.recall >= TARGET_RECALL)} filtered to a 10% dataset: recall@10 ` +
        `${f3(filtered.recall)}, semantic p95 ${f2(filtered.semP95)} ms (iterative scan)`,
    );
  } finally {
    await ds?.destroy().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

async function pglite(corpus: Corpus): Promise<void> {
  console.log(
    `\n## embedded mode: PGlite (one thread, in process), ${DIMS} dims, ${PGLITE_QUERIES} queries; ` +
      `usable while hybrid p95 <= ${EMBEDDED_USABLE_P95_MS} ms`,
  );
  console.log('segments  insert s  index build s  ' + HEADER.slice(19));
  let lastUsable = 0;
  for (const size of PGLITE_SIZES) {
    const dir = mkdtempSync(path.join(tmpdir(), 'llmops-bench-pglite-'));
    const db = await openPglite(dir);
    const ds = new DataSource(buildDataSourceOptions({ pglite: db }));
    try {
      await ds.initialize();
      await runMigrations(ds, { useLock: false });
      const repo = new RetrievalRepository(ds);
      // As the indexing job does: the index first, then the vectors (incremental inserts).
      await repo.ensureVectorIndex(DIMS);
      const [seeded, insertMs] = await timed(() => seed(ds, corpus, size, 500));
      // Rebuilding shows what a bulk build costs (e.g. after a restore).
      const [, buildMs] = await timed(() =>
        ds.query(`REINDEX INDEX idx_segments_embedding_${DIMS}`),
      );
      const scope: SearchScope = { accountId: seeded.accountId, datasetIds: [seeded.big], k: K };
      const m = await measure(
        ds,
        repo,
        scope,
        queries(corpus, PGLITE_QUERIES),
        HNSW_EF_SEARCH,
        true,
      );
      console.log(
        `${String(size).padStart(8)}  ${f1(insertMs / 1000).padStart(8)}  ${f1(buildMs / 1000).padStart(13)}  ` +
          row('', HNSW_EF_SEARCH, m).slice(19),
      );
      if (m.hybridP95 <= EMBEDDED_USABLE_P95_MS) lastUsable = size;
      else break; // larger sizes only get slower
    } finally {
      await ds.destroy().catch(() => undefined);
      await db.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(
    `embedded mode usable (hybrid p95 <= ${EMBEDDED_USABLE_P95_MS} ms) up to the largest size measured ` +
      `within it: ${lastUsable || 'none'} segments`,
  );
}

export async function run(): Promise<void> {
  // The migrator and the index builder log through Nest's static logger: keep the tables clean.
  Logger.overrideLogger(['error', 'warn']);
  const corpus = new Corpus();
  if (process.env.BENCH_SKIP_POSTGRES !== '1') await postgres(corpus);
  if (process.env.BENCH_SKIP_PGLITE !== '1') await pglite(corpus);
}
