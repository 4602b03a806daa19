import { escapeLike, NotFoundError, Page, paginate, toUnix, ValidateError } from '@app/common';
import { AppConfig } from '@app/config';
import { findOwnedOrFail, isUniqueViolation } from '@app/database';
import { JobQueue } from '@app/queue';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Not, Repository } from 'typeorm';
import { ModelCatalog } from 'src/modules/model/catalog/model-catalog.service';
import type {
  CreateDatasetDto,
  DatasetDto,
  ListDatasetsDto,
  UpdateDatasetDto,
} from '../dto/dataset.dto';
import { DatasetEntity, type RetrievalConfig } from '../entities/dataset.entity';
import { DocumentEntity } from '../entities/document.entity';
import { indexJobKey } from '../jobs/job-keys';

export const DEFAULT_RETRIEVAL_CONFIG: RetrievalConfig = {
  retrieval_strategy: 'semantic',
  k: 4,
  score: 0.5,
};

interface DatasetCounts {
  document_count: number;
  character_count: number;
  hit_count: number;
}

/** How many apps use each dataset; the app module provides it (it depends on us, not we on it). */
export type RelatedAppCounter = (
  accountId: string,
  datasetIds: string[],
) => Promise<Map<string, number>>;

/** Datasets: CRUD, defaults, counts, and deletion (the row at once, the rest by a job). */
@Injectable()
export class DatasetService {
  private relatedApps: RelatedAppCounter = () => Promise.resolve(new Map());

  constructor(
    @InjectRepository(DatasetEntity) private readonly datasets: Repository<DatasetEntity>,
    @InjectRepository(DocumentEntity) private readonly documents: Repository<DocumentEntity>,
    private readonly jobs: JobQueue,
    private readonly catalog: ModelCatalog,
    private readonly config: AppConfig,
  ) {}

  setRelatedAppCounter(counter: RelatedAppCounter): void {
    this.relatedApps = counter;
  }

  /** The account's dataset; not_found otherwise. */
  entity(accountId: string, id: string): Promise<DatasetEntity> {
    return findOwnedOrFail(this.datasets, id, accountId, 'The dataset does not exist');
  }

  /** The account's datasets among `ids` (others silently left out). */
  async entities(accountId: string, ids: string[]): Promise<DatasetEntity[]> {
    if (ids.length === 0) return [];
    return this.datasets
      .createQueryBuilder('d')
      .where('d.account_id = :accountId AND d.id IN (:...ids)', { accountId, ids })
      .getMany();
  }

  async list(accountId: string, q: ListDatasetsDto): Promise<Page<DatasetDto>> {
    const qb = this.datasets
      .createQueryBuilder('d')
      .where('d.account_id = :accountId', { accountId })
      .orderBy('d.created_at', 'DESC')
      .addOrderBy('d.id', 'DESC');
    if (q.search_word) qb.andWhere('d.name ILIKE :s', { s: `%${escapeLike(q.search_word)}%` });
    const page = await paginate(qb, q);
    const dtos = await this.toDtos(accountId, page.list);
    return { list: dtos, paginator: page.paginator };
  }

  async get(accountId: string, id: string): Promise<DatasetDto> {
    const [dto] = await this.toDtos(accountId, [await this.entity(accountId, id)]);
    return dto;
  }

  async create(accountId: string, body: CreateDatasetDto): Promise<DatasetEntity> {
    const mode = body.indexing_mode ?? 'high_quality';
    const model = mode === 'high_quality' ? this.embeddingModel(body.embedding_model) : null;
    const row = this.datasets.create({
      account_id: accountId,
      name: body.name,
      icon: body.icon ?? '',
      description: this.describe(body.name, body.description),
      indexing_mode: mode,
      embedding_provider: model?.provider ?? '',
      embedding_model: model?.model ?? '',
      embedding_dims: null,
      retrieval_config: { ...DEFAULT_RETRIEVAL_CONFIG, ...(body.retrieval_config ?? {}) },
    });
    return this.saveUnique(row);
  }

  /**
   * Under the dataset's row lock (document creation takes it too), so a document added meanwhile
   * cannot slip in under an old embedding model; writes only the columns the body sets, so it
   * never puts back a stale value (the `embedding_dims` the first indexing records).
   */
  async update(accountId: string, id: string, body: UpdateDatasetDto): Promise<DatasetEntity> {
    await this.entity(accountId, id);
    try {
      return await this.datasets.manager.transaction(async (m) => {
        const row = await m
          .createQueryBuilder(DatasetEntity, 'd')
          .setLock('pessimistic_write')
          .where('d.id = :id AND d.account_id = :accountId', { id, accountId })
          .getOne();
        if (!row) throw new NotFoundError('The dataset does not exist');
        const mode = body.indexing_mode ?? row.indexing_mode;
        const wanted =
          mode === 'economy'
            ? null
            : body.embedding_model || mode !== row.indexing_mode
              ? this.embeddingModel(body.embedding_model)
              : { provider: row.embedding_provider, model: row.embedding_model };
        const changesIndex =
          mode !== row.indexing_mode ||
          (wanted !== null &&
            (wanted.provider !== row.embedding_provider || wanted.model !== row.embedding_model));
        if (changesIndex && (await m.countBy(DocumentEntity, { dataset_id: row.id })) > 0) {
          throw new ValidateError({
            indexing_mode: [
              'The indexing mode and embedding model cannot change once the dataset has documents; create a new dataset instead',
            ],
          });
        }
        const changes: Partial<DatasetEntity> = {
          name: body.name,
          description: this.describe(body.name, body.description),
          ...(body.icon !== undefined ? { icon: body.icon } : {}),
          ...(body.retrieval_config ? { retrieval_config: { ...body.retrieval_config } } : {}),
          ...(changesIndex
            ? {
                indexing_mode: mode,
                embedding_provider: wanted?.provider ?? '',
                embedding_model: wanted?.model ?? '',
                embedding_dims: null,
              }
            : {}),
        };
        await m.update(DatasetEntity, { id: row.id }, changes);
        return (await m.findOneBy(DatasetEntity, { id: row.id }))!;
      });
    } catch (err) {
      if (isUniqueViolation(err))
        throw new ValidateError({ name: [`A dataset named "${body.name}" already exists`] });
      throw err;
    }
  }

  /**
   * The dataset disappears at once (every document and segment route and retrieval checks it);
   * documents, segments, vectors, files and the query log go in a job, since they may be large.
   * Indexing jobs of its documents find them gone and stop.
   */
  async delete(accountId: string, id: string): Promise<void> {
    const row = await this.entity(accountId, id);
    const indexing = await this.documents.find({
      select: { id: true },
      where: { dataset_id: row.id, status: Not(In(['completed', 'error'])) },
    });
    await this.datasets.delete({ id: row.id, account_id: accountId });
    // Its documents still indexing stop: no more embeddings are paid for them.
    await this.jobs.cancelByKeys(indexing.map((d) => indexJobKey(d.id)));
    await this.jobs.enqueue(
      'dataset.purge-dataset',
      { dataset_id: row.id },
      { key: `${row.id}:purge`, accountId, attempts: 5 },
    );
  }

  toDto(d: DatasetEntity, counts: DatasetCounts, relatedApps: number): DatasetDto {
    return {
      id: d.id,
      name: d.name,
      icon: d.icon,
      description: d.description,
      document_count: counts.document_count,
      hit_count: counts.hit_count,
      related_app_count: relatedApps,
      character_count: counts.character_count,
      indexing_mode: d.indexing_mode,
      embedding_model: d.embedding_model ? `${d.embedding_provider}/${d.embedding_model}` : '',
      retrieval_config: d.retrieval_config,
      updated_at: toUnix(d.updated_at),
      created_at: toUnix(d.created_at),
    };
  }

  private async toDtos(accountId: string, rows: DatasetEntity[]): Promise<DatasetDto[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const raw = await this.documents
      .createQueryBuilder('doc')
      .select('doc.dataset_id', 'dataset_id')
      .addSelect('COUNT(*)::int', 'document_count')
      .addSelect('COALESCE(SUM(doc.character_count), 0)::bigint', 'character_count')
      .addSelect('COALESCE(SUM(doc.hit_count), 0)::bigint', 'hit_count')
      .where('doc.account_id = :accountId AND doc.dataset_id IN (:...ids)', { accountId, ids })
      .groupBy('doc.dataset_id')
      .getRawMany<{
        dataset_id: string;
        document_count: number;
        character_count: string;
        hit_count: string;
      }>();
    const counts = new Map(
      raw.map((r) => [
        r.dataset_id,
        {
          document_count: Number(r.document_count),
          character_count: Number(r.character_count),
          hit_count: Number(r.hit_count),
        },
      ]),
    );
    const apps = await this.relatedApps(accountId, ids);
    const none = { document_count: 0, character_count: 0, hit_count: 0 };
    return rows.map((r) => this.toDto(r, counts.get(r.id) ?? none, apps.get(r.id) ?? 0));
  }

  /** As the original: an empty description becomes one naming the dataset (agents read it). */
  private describe(name: string, description?: string): string {
    return description?.trim() || `当你需要回答${name}的时候可以引用该知识库`;
  }

  private embeddingModel(ref?: string): { provider: string; model: string } {
    const value = ref || this.config.env.DATASET_EMBEDDING_MODEL;
    const slash = value.indexOf('/');
    const provider = value.slice(0, slash);
    const model = value.slice(slash + 1);
    try {
      this.catalog.model(provider, model, 'embedding');
    } catch (err) {
      if (err instanceof NotFoundError) throw new ValidateError({ embedding_model: [err.message] });
      throw err;
    }
    return { provider, model };
  }

  private async saveUnique(row: DatasetEntity): Promise<DatasetEntity> {
    try {
      return await this.datasets.save(row);
    } catch (err) {
      if (isUniqueViolation(err))
        throw new ValidateError({ name: [`A dataset named "${row.name}" already exists`] });
      throw err;
    }
  }
}
