import { ExpiringMap, isUuid, NotFoundError, Page, toUnix } from '@app/common';
import { isUniqueViolation } from '@app/database';
import { Injectable } from '@nestjs/common';
import { In } from 'typeorm';
import { AppRepository } from '../app.repository';
import { defaultAppConfig, pickConfig, type AppConfigFields } from '../config/app-config.types';
import type {
  AppDto,
  AppListItemDto,
  CreatedAppDto,
  ListAppsDto,
  SaveAppDto,
} from '../dto/app.dto';
import type { AppEntity } from '../entities/app.entity';
import { ConfigResolver } from './config-resolver.service';

export const APP_NOT_PUBLISHED = 'The app does not exist or is not published';

/** A published version's config fields, which never change once published. */
interface PublishedVersion {
  appId: string;
  accountId: string;
  fields: AppConfigFields;
}

/** Apps of an account: list, create (with the default draft), detail, update, copy, delete. */
@Injectable()
export class AppService {
  /**
   * Published versions by id, for the service API and web apps (a read per chat otherwise). A
   * version is immutable once published, so an entry can never be stale; which version an app
   * runs (and whether it is still published) is read from the app's row on every call.
   */
  private readonly publishedVersions = new ExpiringMap<string, PublishedVersion>(
    1_000,
    10 * 60_000,
  );

  constructor(
    private readonly repo: AppRepository,
    private readonly resolver: ConfigResolver,
  ) {}

  async list(accountId: string, q: ListAppsDto): Promise<Page<AppListItemDto>> {
    const page = await this.repo.page(accountId, q);
    const configs = await this.repo.listedConfigs(page.list);
    return {
      paginator: page.paginator,
      list: page.list.map((a) => {
        const cfg = configs.get(a.id);
        // Re-validated like every read: provider and model are always those of a real model.
        const model = this.resolver.normalizeModel(cfg?.model_config);
        return {
          id: a.id,
          name: a.name,
          icon: a.icon,
          description: a.description ?? '',
          preset_prompt: cfg?.preset_prompt ?? '',
          model_config: { provider: model.provider, model: model.model },
          status: a.status,
          updated_at: toUnix(a.updated_at),
          created_at: toUnix(a.created_at),
        };
      }),
    };
  }

  /** The account's published apps, newest first (the service API's `/v1/models`). */
  async published(
    accountId: string,
    limit = 1000,
  ): Promise<Array<{ id: string; name: string; created_at: Date }>> {
    return this.repo.apps.find({
      where: { account_id: accountId, status: 'published' },
      select: { id: true, name: true, created_at: true },
      order: { created_at: 'DESC' },
      take: limit,
    });
  }

  async create(accountId: string, dto: SaveAppDto): Promise<CreatedAppDto> {
    const app = await this.repo.create(
      accountId,
      { name: dto.name, icon: dto.icon, description: dto.description ?? '' },
      defaultAppConfig(),
    );
    return { id: app.id };
  }

  /**
   * A new draft app with a whole draft config (a builtin app template): the references are
   * checked for the account as a draft update checks them.
   */
  async createWithConfig(
    accountId: string,
    fields: Pick<AppEntity, 'name' | 'icon' | 'description'>,
    config: AppConfigFields,
  ): Promise<CreatedAppDto> {
    const checked = await this.resolver.checkUpdate(accountId, pickConfig(config));
    const app = await this.repo.create(accountId, fields, { ...pickConfig(config), ...checked });
    return { id: app.id };
  }

  /** Throws not_found unless the account owns the app (the check of the modules built on apps). */
  async assertOwned(accountId: string, id: string): Promise<void> {
    await this.repo.owned(accountId, id);
  }

  /** The owning account of each app among `ids` that still exists. */
  async ownersOf(ids: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (let i = 0; i < ids.length; i += 1000) {
      const rows = await this.repo.apps.find({
        select: { id: true, account_id: true },
        where: { id: In(ids.slice(i, i + 1000)) },
      });
      for (const r of rows) out.set(r.id, r.account_id);
    }
    return out;
  }

  async get(accountId: string, id: string): Promise<AppDto> {
    const app = await this.repo.owned(accountId, id);
    const draft = await this.repo.draftOf(app);
    return this.toDto(app, draft.updated_at);
  }

  async update(accountId: string, id: string, dto: SaveAppDto): Promise<void> {
    const app = await this.repo.owned(accountId, id);
    await this.repo.apps.update(
      { id: app.id, account_id: accountId },
      { name: dto.name, icon: dto.icon, description: dto.description ?? '' },
    );
  }

  /** A new draft app with the same name, icon, description and draft config. */
  async copy(accountId: string, id: string): Promise<CreatedAppDto> {
    const app = await this.repo.owned(accountId, id);
    const draft = await this.repo.draftOf(app);
    const copy = await this.repo.copy(app, pickConfig(draft));
    return { id: copy.id };
  }

  async delete(accountId: string, id: string): Promise<void> {
    const app = await this.repo.owned(accountId, id);
    await this.repo.delete(app);
  }

  // ---- for the chat module (debug chat, assistant agent) ----

  /**
   * The app's draft config as a run uses it: the model re-validated (a model gone from the catalog
   * gives the default), tools, workflows and datasets that no longer exist left out. With the
   * debug conversation's id (null until the first debug turn). not_found for another's app.
   */
  async draftForRun(
    accountId: string,
    appId: string,
  ): Promise<{ appId: string; debugConversationId: string | null; config: AppConfigFields }> {
    const app = await this.repo.owned(accountId, appId);
    const draft = await this.repo.draftOf(app);
    const { config } = await this.resolver.resolve(accountId, pickConfig(draft));
    return { appId: app.id, debugConversationId: app.debug_conversation_id, config };
  }

  /**
   * Makes `conversationId` the app's debug conversation unless another turn attached one first;
   * answers the one attached (so concurrent first turns share a conversation).
   */
  async attachDebugConversation(
    accountId: string,
    appId: string,
    conversationId: string,
    replacing: string | null,
  ): Promise<string> {
    const app = await this.repo.owned(accountId, appId);
    await this.repo.apps
      .createQueryBuilder()
      .update()
      .set({ debug_conversation_id: conversationId })
      .where('id = :id AND account_id = :accountId', { id: app.id, accountId })
      .andWhere(
        replacing ? 'debug_conversation_id = :replacing' : 'debug_conversation_id IS NULL',
        { replacing },
      )
      .execute();
    const row = await this.repo.owned(accountId, appId);
    return row.debug_conversation_id ?? conversationId;
  }

  /** Detaches the debug conversation (the next debug turn starts a new one). */
  async detachDebugConversation(accountId: string, appId: string): Promise<void> {
    const app = await this.repo.owned(accountId, appId);
    await this.repo.apps.update(
      { id: app.id, account_id: accountId },
      { debug_conversation_id: null },
    );
  }

  /**
   * A new app whose draft carries `presetPrompt` (the assistant agent's create-app job), with
   * the id the job chose: creating the same id again answers the app already made.
   */
  async createWithPrompt(
    accountId: string,
    id: string,
    fields: { name: string; icon: string; description: string },
    presetPrompt: string,
  ): Promise<CreatedAppDto> {
    const existing = await this.repo.apps.findOne({ where: { id, account_id: accountId } });
    if (existing) return { id: existing.id };
    try {
      await this.repo.create(
        accountId,
        fields,
        { ...defaultAppConfig(), preset_prompt: presetPrompt },
        id,
      );
    } catch (err) {
      // A concurrent attempt of the same job made it first.
      if (!isUniqueViolation(err)) throw err;
    }
    return { id };
  }

  // ---- for the web apps (chat module's web-app surface) ----

  /**
   * The published app behind a web-app token, with its running (published) config as a run uses
   * it (model re-validated, references that are gone left out) and its owner's account (whose
   * credentials, usage and data a web-app turn uses). not_found for an unknown or malformed
   * token and for an app that is not published (cancel-publish clears the token).
   */
  async webAppByToken(token: string): Promise<{
    appId: string;
    accountId: string;
    name: string;
    icon: string;
    description: string;
    config: AppConfigFields;
  }> {
    const app = /^[A-Za-z0-9]{16}$/.test(token)
      ? await this.repo.apps.findOne({ where: { token, status: 'published' } })
      : null;
    const version = app?.published_config_id
      ? await this.publishedVersion(app.published_config_id)
      : null;
    if (!app || !version || version.appId !== app.id || version.accountId !== app.account_id)
      throw new NotFoundError('The web app does not exist');
    const { config } = await this.resolver.resolve(app.account_id, pickConfig(version.fields));
    return {
      appId: app.id,
      accountId: app.account_id,
      name: app.name,
      icon: app.icon,
      description: app.description ?? '',
      config,
    };
  }

  /**
   * Whether the account's app is published, so its web app is live: web-app visitors may use
   * their conversations (`/conversations/:id/*`) only while it is.
   */
  async webAppLive(accountId: string, appId: string): Promise<boolean> {
    if (!isUuid(appId)) return false;
    const app = await this.repo.apps.findOne({
      where: { id: appId, account_id: accountId, status: 'published' },
      select: { id: true },
    });
    return !!app;
  }

  // ---- for the service API (/openapi/chat, /v1/chat/completions) ----

  /**
   * The PUBLISHED config of the account's app as a run uses it (re-validated like the draft in
   * `draftForRun`: a model gone from the catalog gives the default; tools, workflows and
   * datasets that no longer exist are left out). not_found for another account's app, an
   * unknown id, or an app that is not published.
   */
  async publishedForRun(
    accountId: string,
    appId: string,
  ): Promise<{ appId: string; name: string; config: AppConfigFields }> {
    const app = await this.repo.owned(accountId, appId);
    if (app.status !== 'published' || !app.published_config_id)
      throw new NotFoundError(APP_NOT_PUBLISHED);
    const version = await this.publishedVersion(app.published_config_id);
    if (!version || version.appId !== app.id || version.accountId !== accountId)
      throw new NotFoundError(APP_NOT_PUBLISHED);
    // A copy per run: resolving normalizes the fields in place.
    const { config } = await this.resolver.resolve(accountId, pickConfig(version.fields));
    return { appId: app.id, name: app.name, config };
  }

  private async publishedVersion(id: string): Promise<PublishedVersion | null> {
    const hit = this.publishedVersions.get(id);
    if (hit) return hit;
    const row = await this.repo.versions.findOne({ where: { id, config_type: 'published' } });
    if (!row) return null;
    const version = { appId: row.app_id, accountId: row.account_id, fields: pickConfig(row) };
    this.publishedVersions.set(id, version);
    return version;
  }

  // ---- end of the service API block ----

  private toDto(a: AppEntity, draftUpdatedAt: Date): AppDto {
    return {
      id: a.id,
      debug_conversation_id: a.debug_conversation_id ?? '',
      name: a.name,
      icon: a.icon,
      description: a.description ?? '',
      status: a.status,
      draft_updated_at: toUnix(draftUpdatedAt),
      updated_at: toUnix(a.updated_at),
      created_at: toUnix(a.created_at),
    };
  }
}
