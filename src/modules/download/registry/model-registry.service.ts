import { escapeLike, FailException, NotFoundError, paginate, toUnix, type Page } from '@app/common';
import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { access } from 'node:fs/promises';
import { Repository } from 'typeorm';
import { HubModelDto, ModelInfoDto } from '../dto/model-hub.dto';
import { hfModel } from '../model-hub.service';
import { HuggingFaceClient } from '../sources/huggingface.client';
import { OllamaClient, OllamaTag } from '../sources/ollama.client';
import { EntryFormat, EntrySource, ModelEntryEntity } from './model-entry.entity';
import { ModelFavoriteEntity } from './model-favorite.entity';
import { readSnapshotMetadata } from './model-metadata';
import {
  CategoryDto,
  CountDto,
  ListModelsReqDto,
  ModelEntryDto,
  ModelStatsDto,
  SyncResultDto,
} from './model-registry.dto';

/** What the downloader reports when a snapshot is complete on disk. */
export interface LocalSnapshot {
  source: 'huggingface' | 'ollama' | 'local';
  model_id: string;
  revision: string;
  /** The resolved commit (Hugging Face) or digest. */
  commit: string;
  /** The snapshot directory. */
  path: string;
  /** Paths relative to `path`. */
  files: string[];
  total_size: number;
  /** Who started the download. */
  account_id?: string | null;
}

/** Trending answers are kept this long: the hub's ranking moves slowly. */
const TRENDING_TTL_MS = 5 * 60 * 1000;

/**
 * The machine-wide model registry: models looked at (/models/info), downloaded (recordLocal) or
 * present in the local Ollama (sync). Changes other than favorites are admin-only (routes).
 */
@Injectable()
export class ModelRegistryService {
  private readonly log = new Logger(ModelRegistryService.name);
  private trendingCache: { at: number; limit: number; list: HubModelDto[] } | null = null;

  constructor(
    @InjectRepository(ModelEntryEntity) private readonly entries: Repository<ModelEntryEntity>,
    @InjectRepository(ModelFavoriteEntity)
    private readonly favorites: Repository<ModelFavoriteEntity>,
    private readonly hf: HuggingFaceClient,
    private readonly ollama: OllamaClient,
  ) {}

  async list(accountId: string, q: ListModelsReqDto): Promise<Page<ModelEntryDto>> {
    const qb = this.entries.createQueryBuilder('e');
    if (q.source) qb.andWhere('e.source = :source', { source: q.source });
    if (q.status) qb.andWhere('e.status = :status', { status: q.status });
    if (q.format) qb.andWhere('e.format = :format', { format: q.format });
    if (q.type) qb.andWhere('e.pipeline_tag = :type', { type: q.type });
    if (q.search_word) {
      qb.andWhere('(e.model_id ILIKE :w OR e.name ILIKE :w)', {
        w: `%${escapeLike(q.search_word)}%`,
      });
    }
    if (q.favorite !== undefined) {
      qb.andWhere(
        `${q.favorite ? '' : 'NOT '}EXISTS (SELECT 1 FROM model_favorites f ` +
          'WHERE f.model_entry_id = e.id AND f.account_id = :acc)',
        { acc: accountId },
      );
    }
    qb.orderBy('e.updated_at', 'DESC').addOrderBy('e.id', 'ASC');
    const page = await paginate(qb, q);
    const favs = await this.favoriteIds(
      accountId,
      page.list.map((e) => e.id),
    );
    return { ...page, list: page.list.map((e) => toDto(e, favs.has(e.id))) };
  }

  async categories(): Promise<CategoryDto[]> {
    const rows = await this.entries
      .createQueryBuilder('e')
      .select('e.pipeline_tag', 'name')
      .addSelect('COUNT(*)::int', 'count')
      .where("e.pipeline_tag <> ''")
      .groupBy('e.pipeline_tag')
      .orderBy('count', 'DESC')
      .addOrderBy('name', 'ASC')
      .getRawMany<CategoryDto>();
    return rows;
  }

  /** Hugging Face's trending models (its trendingScore sort), cached briefly. */
  async trending(limit: number): Promise<HubModelDto[]> {
    const c = this.trendingCache;
    if (c && Date.now() - c.at < TRENDING_TTL_MS && c.limit >= limit) return c.list.slice(0, limit);
    const { items } = await this.hf.search({ sort: 'trendingScore', direction: -1, limit });
    const list = items.map(hfModel);
    this.trendingCache = { at: Date.now(), limit, list };
    return list;
  }

  async stats(accountId: string): Promise<ModelStatsDto> {
    const by = (col: string) =>
      this.entries
        .createQueryBuilder('e')
        .select(`e.${col}`, 'name')
        .addSelect('COUNT(*)::int', 'count')
        .groupBy(`e.${col}`)
        .orderBy('name', 'ASC')
        .getRawMany<CountDto>();
    const [by_source, by_status, by_format, size, favorites] = await Promise.all([
      by('source'),
      by('status'),
      by('format'),
      this.entries
        .createQueryBuilder('e')
        .select('COALESCE(SUM(e.size), 0)::text', 'sum')
        .where("e.status = 'downloaded'")
        .getRawOne<{ sum: string }>(),
      this.favorites.countBy({ account_id: accountId }),
    ]);
    return {
      total: by_source.reduce((s, r) => s + r.count, 0),
      by_source,
      by_status,
      by_format,
      local_size: Number(size?.sum ?? 0),
      favorites,
    };
  }

  async favorite(accountId: string, id: string): Promise<ModelEntryDto> {
    const entry = await this.get(id);
    await this.favorites
      .createQueryBuilder()
      .insert()
      .values({ account_id: accountId, model_entry_id: id })
      .orIgnore()
      .execute();
    return toDto(entry, true);
  }

  async unfavorite(accountId: string, id: string): Promise<ModelEntryDto> {
    const entry = await this.get(id);
    await this.favorites.delete({ account_id: accountId, model_entry_id: id });
    return toDto(entry, false);
  }

  /**
   * Removes an entry (and everyone's favorites of it). A downloaded one goes only once its files
   * are gone: the registry never deletes model files itself.
   */
  async delete(id: string): Promise<void> {
    const e = await this.get(id);
    if (e.status === 'downloaded') {
      if (e.source === 'ollama') {
        throw new FailException(
          `${e.model_id} is in the local Ollama: remove it there (ollama rm ${e.model_id}), ` +
            'then sync (POST /models/sync) before deleting the entry',
        );
      }
      if (e.local_path && (await exists(e.local_path))) {
        throw new FailException(
          `The files of ${e.model_id} are still on disk: delete its download ` +
            '(POST /downloads/:id/delete) first',
        );
      }
    }
    await this.entries.manager.transaction(async (m) => {
      await m.delete(ModelFavoriteEntity, { model_entry_id: id });
      await m.delete(ModelEntryEntity, { id });
    });
  }

  /** Local Ollama models become `downloaded` entries; ones no longer there become `remote`. */
  async syncOllama(): Promise<SyncResultDto> {
    const tags = await this.ollama.tags();
    const now = new Date();
    for (const t of tags) await this.upsert(ollamaEntry(t, now), 'local');
    const names = tags.map((t) => t.name);
    const qb = this.entries
      .createQueryBuilder()
      .update(ModelEntryEntity)
      .set({ status: 'remote', local_path: '', last_synced_at: now })
      .where("source = 'ollama' AND status = 'downloaded'");
    if (names.length) qb.andWhere('model_id NOT IN (:...names)', { names });
    const res = await qb.execute();
    return { synced: tags.length, missing: res.affected ?? 0 };
  }

  /** The entry a /models/info answer describes (remote, unless already downloaded). */
  async recordInfo(accountId: string, info: ModelInfoDto): Promise<void> {
    const fmt = info.formats.includes('gguf')
      ? 'gguf'
      : info.formats.includes('safetensors')
        ? 'safetensors'
        : 'other';
    await this.upsert(
      {
        account_id: accountId,
        source: info.source,
        model_id: info.model_id,
        name: info.model_id.split('/').pop() ?? info.model_id,
        author: info.author,
        format: fmt,
        pipeline_tag: info.pipeline_tag,
        parameter_count: info.parameter_count,
        quantization: info.quantizations.length === 1 ? info.quantizations[0] : '',
        context_length: info.context_length,
        size: info.total_size,
        tags: info.tags,
        downloads: info.downloads,
        likes: info.likes,
        last_synced_at: new Date(),
        // Ollama describes only models it has: the entry is local.
        ...(info.source === 'ollama'
          ? { status: 'downloaded' as const, revision: info.revision }
          : {}),
      },
      'remote',
    );
  }

  /**
   * Called by the downloader when a snapshot is complete: the entry becomes `downloaded` with its
   * path and size, and format/parameters/quantization/context read from the files themselves.
   */
  async recordLocal(s: LocalSnapshot): Promise<ModelEntryDto> {
    const md = await readSnapshotMetadata(s.path, s.files).catch((err: unknown) => {
      this.log.warn(`Cannot read the metadata of ${s.path}: ${String(err)}`);
      return null;
    });
    const entry: Partial<ModelEntryEntity> = {
      account_id: s.account_id ?? null,
      source: s.source,
      model_id: s.model_id,
      name: s.model_id.split('/').pop() ?? s.model_id,
      author: s.model_id.includes('/') ? s.model_id.split('/')[0] : '',
      size: s.total_size,
      status: 'downloaded',
      revision: s.commit || s.revision,
      local_path: s.path,
      last_synced_at: new Date(),
    };
    if (md) {
      entry.format = md.format;
      if (md.parameter_count !== null) entry.parameter_count = md.parameter_count;
      if (md.quantization) entry.quantization = md.quantization.slice(0, 32);
      if (md.context_length !== null) entry.context_length = md.context_length;
    }
    await this.upsert(entry, 'local');
    const saved = await this.entries.findOneByOrFail({ source: s.source, model_id: s.model_id });
    return toDto(saved, false);
  }

  /**
   * A finished Ollama pull: the entry as a sync writes it (details, size and digest from
   * `/api/tags`), recorded on the account that pulled it. Should Ollama not list it (removed in
   * between), the entry still says what was pulled.
   */
  async recordOllamaPull(p: {
    model_id: string;
    account_id: string | null;
    total_size: number;
  }): Promise<ModelEntryDto> {
    const name = p.model_id.toLowerCase();
    const tag = (await this.ollama.tags()).find(
      (t) => t.name.toLowerCase() === name || t.model?.toLowerCase() === name,
    );
    const now = new Date();
    const entry: Partial<ModelEntryEntity> = tag
      ? { ...ollamaEntry(tag, now), model_id: p.model_id }
      : {
          source: 'ollama',
          model_id: p.model_id,
          name: p.model_id,
          size: p.total_size,
          status: 'downloaded',
          last_synced_at: now,
        };
    await this.upsert({ ...entry, account_id: p.account_id }, 'local');
    const saved = await this.entries.findOneByOrFail({ source: 'ollama', model_id: p.model_id });
    return toDto(saved, false);
  }

  /** A model deleted from Ollama through its download task: the entry is `remote` again. */
  async markOllamaRemoved(modelId: string): Promise<void> {
    await this.entries.update(
      { source: 'ollama', model_id: modelId, status: 'downloaded' },
      { status: 'remote', local_path: '', last_synced_at: new Date() },
    );
  }

  private async get(id: string): Promise<ModelEntryEntity> {
    const e = await this.entries.findOneBy({ id });
    if (!e) throw new NotFoundError('Model entry not found');
    return e;
  }

  private async favoriteIds(accountId: string, ids: string[]): Promise<Set<string>> {
    if (!ids.length) return new Set();
    const rows = await this.favorites
      .createQueryBuilder('f')
      .select('f.model_entry_id', 'id')
      .where('f.account_id = :accountId AND f.model_entry_id IN (:...ids)', { accountId, ids })
      .getRawMany<{ id: string }>();
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Inserts or refreshes by (source, model_id). A `remote` refresh (hub metadata) never turns a
   * downloaded entry back to remote nor overwrites what was read from its files.
   */
  private async upsert(values: Partial<ModelEntryEntity>, kind: 'remote' | 'local'): Promise<void> {
    const key = { source: values.source as EntrySource, model_id: values.model_id as string };
    await this.entries
      .createQueryBuilder()
      .insert()
      .values({ ...values, status: values.status ?? 'remote' })
      .orIgnore()
      .execute();
    const existing = await this.entries.findOneByOrFail(key);
    const patch: Partial<ModelEntryEntity> = { ...values };
    // Whoever recorded the entry first keeps it: a look at a model (anyone may) takes nothing over.
    if (kind === 'remote' && existing.account_id !== null) delete patch.account_id;
    if (kind === 'remote' && existing.status === 'downloaded') {
      // What the files say wins over the hub; the hub only fills what the files did not tell.
      delete patch.format;
      delete patch.quantization;
      delete patch.size;
      if (existing.parameter_count !== null) delete patch.parameter_count;
      if (existing.context_length !== null) delete patch.context_length;
    }
    await this.entries.update({ id: existing.id }, patch);
  }
}

function ollamaEntry(t: OllamaTag, now: Date): Partial<ModelEntryEntity> {
  const d = t.details ?? {};
  const fmt: EntryFormat =
    d.format === 'gguf' ? 'gguf' : d.format === 'safetensors' ? 'safetensors' : 'other';
  return {
    account_id: null,
    source: 'ollama',
    model_id: t.name,
    name: t.name,
    author: d.family ?? '',
    format: fmt,
    parameter_count: parseParameterSize(d.parameter_size),
    quantization: (d.quantization_level ?? '').slice(0, 32),
    size: t.size ?? 0,
    tags: [d.family, d.parameter_size, d.quantization_level].filter((x): x is string => !!x),
    status: 'downloaded',
    revision: t.digest ?? '',
    last_synced_at: now,
  };
}

/** Ollama's "3.2B" / "137M" / "500K" to a count. */
export function parseParameterSize(s: string | undefined): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([KMBT])?$/i.exec(s?.trim() ?? '');
  if (!m) return null;
  const mult = { K: 1e3, M: 1e6, B: 1e9, T: 1e12 }[(m[2] ?? '').toUpperCase()] ?? 1;
  return Math.round(Number(m[1]) * mult);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

function toDto(e: ModelEntryEntity, isFavorite: boolean): ModelEntryDto {
  return {
    id: e.id,
    source: e.source,
    model_id: e.model_id,
    name: e.name,
    author: e.author,
    format: e.format,
    pipeline_tag: e.pipeline_tag,
    parameter_count: e.parameter_count,
    quantization: e.quantization,
    context_length: e.context_length,
    size: e.size,
    tags: e.tags,
    downloads: e.downloads,
    likes: e.likes,
    status: e.status,
    revision: e.revision,
    local_path: e.local_path,
    is_favorite: isFavorite,
    last_synced_at: toUnix(e.last_synced_at),
    created_at: toUnix(e.created_at),
    updated_at: toUnix(e.updated_at),
  };
}
