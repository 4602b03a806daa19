import {
  escapeLike,
  isUuid,
  FailException,
  NotFoundError,
  Page,
  paginate,
  toUnix,
  ValidateError,
} from '@app/common';
import { TransactionService } from '@app/database';
import { JobQueue } from '@app/queue';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { RealtimeSubscriptions } from '@app/realtime';
import { InjectRepository } from '@nestjs/typeorm';
import { randomInt } from 'node:crypto';
import { Repository } from 'typeorm';
import type {
  BatchDocumentDto,
  CreateDocumentsDto,
  CreateDocumentsResultDto,
  DocumentDetailDto,
  DocumentDto,
  ListDocumentsDto,
} from '../dto/document.dto';
import { DatasetEntity } from '../entities/dataset.entity';
import { DocumentEntity } from '../entities/document.entity';
import { SegmentEntity } from '../entities/segment.entity';
import { DEFAULT_PROCESS_RULE, type ProcessRule } from '../indexing/pipeline.types';
import { compileSeparators, InvalidSeparatorError } from '../indexing/splitter';
import { indexJobKey } from '../jobs/job-keys';
import { UploadFileService } from '../uploads/upload-file.service';
import { DOCUMENT_RULES } from '../uploads/upload-rules';
import { DatasetService } from './dataset.service';
import { setEnabledFlag } from './enabled-flag';

/** `YYYYMMDDHHMMSS` + 6 random digits, as the original. */
function newBatch(now = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const stamp = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  return `${stamp}${p(randomInt(0, 1_000_000), 6)}`;
}

const BATCH_ID = /^\d{20}$/;

/** The socket.io room of one batch's documents. */
export const documentBatchRoom = (datasetId: string, batch: string): string =>
  `document_batch:${datasetId}:${batch}`;

/** Checks the cross-field rules of a custom rule and returns the rule to store. */
export function resolveProcessRule(
  body: Pick<CreateDocumentsDto, 'process_type' | 'rule'>,
): ProcessRule {
  if (body.process_type === 'automatic') return structuredClone(DEFAULT_PROCESS_RULE);
  const rule = body.rule;
  if (!rule) throw new ValidateError({ rule: ['rule is required when process_type is custom'] });
  const ids = new Set(rule.pre_process_rules.map((r) => r.id));
  if (
    !ids.has('remove_extra_space') ||
    !ids.has('remove_url_and_email') ||
    ids.size !== rule.pre_process_rules.length
  )
    throw new ValidateError({
      'rule.pre_process_rules': [
        'pre_process_rules must list remove_extra_space and remove_url_and_email once each',
      ],
    });
  const { chunk_size, chunk_overlap, separators } = rule.segment;
  if (chunk_overlap > chunk_size / 2)
    throw new ValidateError({
      'rule.segment.chunk_overlap': [
        `chunk_overlap must be at most half of chunk_size (${Math.floor(chunk_size / 2)})`,
      ],
    });
  try {
    compileSeparators(separators);
  } catch (err) {
    if (err instanceof InvalidSeparatorError)
      throw new ValidateError({ 'rule.segment.separators': [err.message] });
    throw err;
  }
  return {
    pre_process_rules: rule.pre_process_rules.map((r) => ({ id: r.id, enabled: r.enabled })),
    segment: { separators: [...separators], chunk_size, chunk_overlap },
  };
}

/** Documents of a dataset: creation (and their indexing jobs), progress, listing, changes. */
@Injectable()
export class DocumentService implements OnModuleInit {
  constructor(
    @InjectRepository(DocumentEntity) private readonly documents: Repository<DocumentEntity>,
    @InjectRepository(SegmentEntity) private readonly segments: Repository<SegmentEntity>,
    private readonly datasets: DatasetService,
    private readonly uploads: UploadFileService,
    private readonly tx: TransactionService,
    private readonly jobs: JobQueue,
    private readonly subscriptions: RealtimeSubscriptions,
  ) {}

  /** `subscribe_document_batch {dataset_id, batch}`: authorized like the batch GET. */
  onModuleInit(): void {
    this.subscriptions.register<{ dataset_id?: unknown; batch?: unknown }>({
      subscribe: 'subscribe_document_batch',
      room: (p) =>
        typeof p?.dataset_id === 'string' &&
        isUuid(p.dataset_id) &&
        typeof p.batch === 'string' &&
        BATCH_ID.test(p.batch)
          ? documentBatchRoom(p.dataset_id, p.batch)
          : null,
      authorize: async (accountId, p) =>
        (await this.documents.count({
          where: {
            account_id: accountId,
            dataset_id: p.dataset_id as string,
            batch: p.batch as string,
          },
        })) > 0 && (await this.datasets.entities(accountId, [p.dataset_id as string])).length > 0,
    });
  }

  async entity(accountId: string, datasetId: string, id: string): Promise<DocumentEntity> {
    await this.datasets.entity(accountId, datasetId);
    const row = await this.documents.findOneBy({
      id,
      dataset_id: datasetId,
      account_id: accountId,
    });
    if (!row) throw new NotFoundError('The document does not exist');
    return row;
  }

  async create(
    accountId: string,
    datasetId: string,
    body: CreateDocumentsDto,
  ): Promise<CreateDocumentsResultDto> {
    const dataset = await this.datasets.entity(accountId, datasetId);
    const rule = resolveProcessRule(body);
    const files = (await this.uploads.getMany(accountId, body.upload_file_ids))
      .filter((f) => f.kind === 'document' && DOCUMENT_RULES[f.extension])
      // Keep the order the client sent.
      .sort((a, b) => body.upload_file_ids.indexOf(a.id) - body.upload_file_ids.indexOf(b.id));
    if (files.length === 0)
      throw new FailException(
        'None of these files can be added: upload documents with POST /upload-files/file first',
      );
    const batch = newBatch();
    const created = await this.tx.run(async (m) => {
      // Serializes concurrent additions to one dataset so positions stay unique and dense.
      const locked = await m
        .createQueryBuilder(DatasetEntity, 'd')
        .setLock('pessimistic_write')
        .where('d.id = :id', { id: dataset.id })
        .getOne();
      // Deleted meanwhile: its purge would never see documents added now.
      if (!locked) throw new NotFoundError('The dataset does not exist');
      const { max } = (await m
        .createQueryBuilder(DocumentEntity, 'doc')
        .select('COALESCE(MAX(doc.position), 0)', 'max')
        .where('doc.dataset_id = :id', { id: dataset.id })
        .getRawOne<{ max: number }>()) ?? { max: 0 };
      const rows = files.map((f, i) =>
        m.create(DocumentEntity, {
          account_id: accountId,
          dataset_id: dataset.id,
          upload_file_id: f.id,
          batch,
          name: f.name.slice(0, 255),
          position: Number(max) + i + 1,
          process_rule: rule,
          status: 'waiting',
        }),
      );
      return m.save(rows);
    });
    for (const doc of created) {
      await this.jobs.enqueue(
        'dataset.index-document',
        { document_id: doc.id },
        { key: indexJobKey(doc.id), accountId, attempts: 3, backoffMs: 2000 },
      );
    }
    return {
      batch,
      documents: created.map((d) => ({
        id: d.id,
        name: d.name,
        status: d.status,
        created_at: toUnix(d.created_at),
      })),
    };
  }

  async batch(accountId: string, datasetId: string, batch: string): Promise<BatchDocumentDto[]> {
    await this.datasets.entity(accountId, datasetId);
    const docs = await this.documents.find({
      where: { dataset_id: datasetId, account_id: accountId, batch },
      order: { position: 'ASC' },
    });
    if (docs.length === 0) throw new NotFoundError('The batch does not exist');
    const counts = await this.segmentCounts(docs.map((d) => d.id));
    const files = new Map(
      (
        await this.uploads.getMany(
          accountId,
          docs.map((d) => d.upload_file_id),
        )
      ).map((f) => [f.id, f]),
    );
    return docs.map((d) => {
      const f = files.get(d.upload_file_id);
      const c = counts.get(d.id) ?? { total: 0, completed: 0 };
      return {
        id: d.id,
        name: d.name,
        size: f?.size ?? 0,
        extension: f?.extension ?? '',
        mime_type: f?.mime_type ?? '',
        position: d.position,
        segment_count: c.total,
        completed_segment_count: c.completed,
        status: d.status,
        error: d.error,
        processing_started_at: toUnix(d.processing_started_at),
        parsing_completed_at: toUnix(d.parsing_completed_at),
        splitting_completed_at: toUnix(d.splitting_completed_at),
        indexing_completed_at: toUnix(d.indexing_completed_at),
        completed_at: toUnix(d.completed_at),
        stopped_at: toUnix(d.stopped_at),
        created_at: toUnix(d.created_at),
      };
    });
  }

  async list(
    accountId: string,
    datasetId: string,
    q: ListDocumentsDto,
  ): Promise<Page<DocumentDto>> {
    await this.datasets.entity(accountId, datasetId);
    const qb = this.documents
      .createQueryBuilder('doc')
      .where('doc.account_id = :accountId AND doc.dataset_id = :datasetId', {
        accountId,
        datasetId,
      })
      .orderBy('doc.position', 'ASC');
    if (q.search_word) qb.andWhere('doc.name ILIKE :s', { s: `%${escapeLike(q.search_word)}%` });
    return paginate(qb, q, (d) => this.toDto(d));
  }

  async get(accountId: string, datasetId: string, id: string): Promise<DocumentDetailDto> {
    const d = await this.entity(accountId, datasetId, id);
    const c = (await this.segmentCounts([d.id])).get(d.id);
    return { ...this.toDto(d), dataset_id: d.dataset_id, segment_count: c?.total ?? 0 };
  }

  async rename(accountId: string, datasetId: string, id: string, name: string): Promise<void> {
    const d = await this.entity(accountId, datasetId, id);
    await this.documents.update({ id: d.id }, { name });
  }

  /** Takes effect at once: retrieval filters on the document's flag. */
  async setEnabled(
    accountId: string,
    datasetId: string,
    id: string,
    enabled: boolean,
  ): Promise<void> {
    const d = await this.entity(accountId, datasetId, id);
    await setEnabledFlag(this.documents, d, enabled, 'document');
  }

  /**
   * The row goes at once (no longer listed or retrieved); segments and the file by a job. Its
   * indexing, if still queued or running, is cancelled: no more embeddings are paid for it.
   */
  async delete(accountId: string, datasetId: string, id: string): Promise<void> {
    const d = await this.entity(accountId, datasetId, id);
    await this.documents.delete({ id: d.id, account_id: accountId });
    await this.jobs.cancelByKeys([indexJobKey(d.id)]);
    await this.jobs.enqueue(
      'dataset.purge-document',
      { document_id: d.id, upload_file_id: d.upload_file_id },
      { key: `${d.id}:purge`, accountId, attempts: 5 },
    );
  }

  toDto(d: DocumentEntity): DocumentDto {
    return {
      id: d.id,
      name: d.name,
      character_count: d.character_count,
      token_count: d.token_count,
      hit_count: d.hit_count,
      position: d.position,
      enabled: d.enabled,
      disabled_at: toUnix(d.disabled_at),
      status: d.status,
      error: d.error,
      updated_at: toUnix(d.updated_at),
      created_at: toUnix(d.created_at),
    };
  }

  private async segmentCounts(
    ids: string[],
  ): Promise<Map<string, { total: number; completed: number }>> {
    if (ids.length === 0) return new Map();
    const raw = await this.segments
      .createQueryBuilder('s')
      .select('s.document_id', 'document_id')
      .addSelect('COUNT(*)::int', 'total')
      .addSelect(`COUNT(*) FILTER (WHERE s.status = 'completed')::int`, 'completed')
      .where('s.document_id IN (:...ids)', { ids })
      .groupBy('s.document_id')
      .getRawMany<{ document_id: string; total: number; completed: number }>();
    return new Map(
      raw.map((r) => [r.document_id, { total: Number(r.total), completed: Number(r.completed) }]),
    );
  }
}
