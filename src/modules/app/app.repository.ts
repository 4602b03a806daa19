import { escapeLike, NotFoundError, Page, paginate } from '@app/common';
import { findOwnedOrFail, TransactionService } from '@app/database';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository, type EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { pickConfig, type AppConfigFields } from './config/app-config.types';
import { AppConfigVersionEntity } from './entities/app-config-version.entity';
import { AppEntity } from './entities/app.entity';

export const APP_NOT_FOUND = 'The app does not exist';

/** TypeORM's deep-partial type cannot express jsonb columns of open records. */
const asColumns = (fields: Partial<AppConfigFields>) =>
  fields as unknown as QueryDeepPartialEntity<AppConfigVersionEntity>;

/** What a list row shows of the config that applies (the published one, else the draft). */
export type ListedConfig = Pick<
  AppConfigVersionEntity,
  'app_id' | 'preset_prompt' | 'model_config'
>;

/**
 * Apps and their configurations: multi-table writes (create, copy, publish, delete) in one
 * transaction each, the list, and the related-app counts datasets show.
 */
@Injectable()
export class AppRepository {
  constructor(
    @InjectRepository(AppEntity) readonly apps: Repository<AppEntity>,
    @InjectRepository(AppConfigVersionEntity)
    readonly versions: Repository<AppConfigVersionEntity>,
    private readonly tx: TransactionService,
  ) {}

  /** A new app (status draft) with its draft config; `id` when the caller chose it. */
  create(
    accountId: string,
    fields: Pick<AppEntity, 'name' | 'icon' | 'description'>,
    config: AppConfigFields,
    id?: string,
  ): Promise<AppEntity> {
    return this.tx.run(async (m) => {
      const app = await m.save(
        m.create(AppEntity, {
          ...(id ? { id } : {}),
          ...fields,
          account_id: accountId,
          status: 'draft',
          published_config_id: null,
          debug_conversation_id: null,
          token: null,
        }),
      );
      await this.insertVersion(m, app, 'draft', 0, config);
      return app;
    });
  }

  page(
    accountId: string,
    q: { current_page?: number; page_size?: number; search_word?: string },
  ): Promise<Page<AppEntity>> {
    const qb = this.apps
      .createQueryBuilder('a')
      .where('a.account_id = :accountId', { accountId })
      .orderBy('a.created_at', 'DESC')
      .addOrderBy('a.id', 'DESC');
    if (q.search_word) qb.andWhere('a.name ILIKE :s', { s: `%${escapeLike(q.search_word)}%` });
    return paginate(qb, q);
  }

  /** For each app, the prompt and model of its published config, or of its draft. */
  async listedConfigs(apps: AppEntity[]): Promise<Map<string, ListedConfig>> {
    if (!apps.length) return new Map();
    const published = apps.map((a) => a.published_config_id).filter((id): id is string => !!id);
    const qb = this.versions
      .createQueryBuilder('v')
      .select(['v.id', 'v.app_id', 'v.config_type', 'v.preset_prompt', 'v.model_config'])
      .where('v.app_id IN (:...appIds)', { appIds: apps.map((a) => a.id) });
    if (published.length)
      qb.andWhere("(v.config_type = 'draft' OR v.id IN (:...published))", { published });
    else qb.andWhere("v.config_type = 'draft'");
    const rows = await qb.getMany();
    const out = new Map<string, ListedConfig>();
    for (const app of apps) {
      const row =
        rows.find((r) => r.id === app.published_config_id) ??
        rows.find((r) => r.app_id === app.id && r.config_type === 'draft');
      if (row) out.set(app.id, row);
    }
    return out;
  }

  /** The account's app; not_found for unknown, malformed and other accounts' ids alike. */
  owned(accountId: string, id: string): Promise<AppEntity> {
    return findOwnedOrFail(this.apps, id, accountId, APP_NOT_FOUND);
  }

  async draftOf(app: AppEntity): Promise<AppConfigVersionEntity> {
    const row = await this.versions.findOne({
      where: { app_id: app.id, account_id: app.account_id, config_type: 'draft' },
    });
    // Every app is created with its draft, in the same transaction.
    if (!row) throw new Error(`App ${app.id} has no draft config`);
    return row;
  }

  /** Sets the given config fields of the draft (the others stay as they are). */
  async updateDraft(draftId: string, fields: Partial<AppConfigFields>): Promise<void> {
    if (!Object.keys(fields).length) return;
    await this.versions.update({ id: draftId, config_type: 'draft' }, asColumns(fields));
  }

  /**
   * Saves what a read cleaned, one column at a time and only where the column still holds what
   * the read saw: a concurrent update wins over the cleaning.
   */
  async saveCleaned(
    draft: AppConfigVersionEntity,
    cleaned: Partial<AppConfigFields>,
  ): Promise<void> {
    for (const [key, value] of Object.entries(cleaned)) {
      await this.versions
        .createQueryBuilder()
        .update(AppConfigVersionEntity)
        // A cleaning is not an edit: the draft's updated_at (the console's "saved at") stays.
        .set({ [key]: () => `CAST(:value AS jsonb)`, updated_at: () => 'updated_at' })
        .where(`id = :id AND config_type = 'draft' AND ${key} = CAST(:old AS jsonb)`, {
          id: draft.id,
          old: JSON.stringify(draft[key as keyof AppConfigFields]),
        })
        .setParameter('value', JSON.stringify(value))
        .execute();
    }
  }

  /** Copies an app and its draft (the copy is a draft). */
  copy(source: AppEntity, draft: AppConfigFields): Promise<AppEntity> {
    return this.create(
      source.account_id,
      { name: source.name, icon: source.icon, description: source.description },
      draft,
    );
  }

  /**
   * Adds a version (previous maximum + 1, from 1) with `config` and makes it the running one.
   * The app row is locked, so concurrent publishes get consecutive versions.
   */
  publish(app: AppEntity, config: AppConfigFields): Promise<AppConfigVersionEntity> {
    return this.tx.run(async (m) => {
      const locked = await m
        .createQueryBuilder(AppEntity, 'a')
        .setLock('pessimistic_write')
        .where('a.id = :id AND a.account_id = :accountId', {
          id: app.id,
          accountId: app.account_id,
        })
        .getOne();
      if (!locked) throw new NotFoundError(APP_NOT_FOUND);
      const { max } = (await m
        .createQueryBuilder(AppConfigVersionEntity, 'v')
        .select('COALESCE(MAX(v.version), 0)::int', 'max')
        .where("v.app_id = :id AND v.config_type = 'published'", { id: app.id })
        .getRawOne<{ max: number }>()) ?? { max: 0 };
      const version = await this.insertVersion(m, locked, 'published', Number(max) + 1, config);
      await m.update(
        AppEntity,
        { id: app.id, account_id: app.account_id },
        { status: 'published', published_config_id: version.id },
      );
      return version;
    });
  }

  /** Back to draft: no running version, and the web-app token goes (a new one on republish). */
  async unpublish(app: AppEntity): Promise<boolean> {
    const res = await this.apps.update(
      { id: app.id, account_id: app.account_id, status: 'published' },
      { status: 'draft', published_config_id: null, token: null },
    );
    return (res.affected ?? 0) > 0;
  }

  histories(
    app: AppEntity,
    q: { current_page?: number; page_size?: number },
  ): Promise<Page<AppConfigVersionEntity>> {
    const qb = this.versions
      .createQueryBuilder('v')
      .select(['v.id', 'v.version', 'v.created_at'])
      .where("v.app_id = :id AND v.account_id = :accountId AND v.config_type = 'published'", {
        id: app.id,
        accountId: app.account_id,
      })
      .orderBy('v.version', 'DESC');
    return paginate(qb, q);
  }

  async publishedVersion(app: AppEntity, versionId: string): Promise<AppConfigVersionEntity> {
    const row = await this.versions.findOne({
      where: {
        id: versionId,
        app_id: app.id,
        account_id: app.account_id,
        config_type: 'published',
      },
    });
    if (!row) throw new NotFoundError('The version does not exist');
    return row;
  }

  /** Sets the token only if the app is still published and has none; then reads it back. */
  async ensureToken(app: AppEntity, token: string): Promise<string | null> {
    await this.apps
      .createQueryBuilder()
      .update(AppEntity)
      .set({ token })
      .where("id = :id AND account_id = :accountId AND status = 'published' AND token IS NULL", {
        id: app.id,
        accountId: app.account_id,
      })
      .execute();
    const row = await this.apps.findOne({
      select: { id: true, token: true, status: true },
      where: { id: app.id, account_id: app.account_id },
    });
    return row?.status === 'published' ? row.token : null;
  }

  /** A new token for a published app; false when the app is not published. */
  async replaceToken(app: AppEntity, token: string): Promise<boolean> {
    const res = await this.apps.update(
      { id: app.id, account_id: app.account_id, status: 'published' },
      { token },
    );
    return (res.affected ?? 0) > 0;
  }

  delete(app: AppEntity): Promise<void> {
    return this.tx.run(async (m) => {
      await m.delete(AppConfigVersionEntity, { app_id: app.id, account_id: app.account_id });
      await m.delete(AppEntity, { id: app.id, account_id: app.account_id });
    });
  }

  /**
   * How many of the account's published apps use each dataset in their running version (what
   * the original counted; drafts do not count).
   */
  async relatedAppCounts(accountId: string, datasetIds: string[]): Promise<Map<string, number>> {
    if (!datasetIds.length) return new Map();
    // One placeholder per id (no array parameter: the embedded driver binds arrays differently).
    const list = datasetIds.map((_, i) => `$${i + 2}`).join(', ');
    const rows = await this.apps.manager.query<Array<{ dataset_id: string; n: number }>>(
      `SELECT d.id AS dataset_id, COUNT(DISTINCT a.id)::int AS n
         FROM apps a
         JOIN app_config_versions v ON v.id = a.published_config_id AND v.account_id = a.account_id
         CROSS JOIN LATERAL jsonb_array_elements_text(v.datasets) AS d(id)
        WHERE a.account_id = $1 AND a.status = 'published' AND d.id IN (${list})
        GROUP BY d.id`,
      [accountId, ...datasetIds],
    );
    return new Map(rows.map((r) => [r.dataset_id, Number(r.n)]));
  }

  private insertVersion(
    m: EntityManager,
    app: AppEntity,
    type: 'draft' | 'published',
    version: number,
    config: AppConfigFields,
  ): Promise<AppConfigVersionEntity> {
    return m.save(
      m.create(AppConfigVersionEntity, {
        ...pickConfig(config),
        account_id: app.account_id,
        app_id: app.id,
        config_type: type,
        version,
      }),
    );
  }
}
