import { FailException, Page, toUnix } from '@app/common';
import { Injectable } from '@nestjs/common';
import { randomInt } from 'node:crypto';
import { AppRepository } from '../app.repository';
import { pickConfig } from '../config/app-config.types';
import type {
  ListPublishHistoriesDto,
  PublishedConfigDto,
  PublishHistoryDto,
  WebAppTokenDto,
} from '../dto/app-config.dto';
import { ConfigResolver } from './config-resolver.service';

const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const TOKEN_LENGTH = 16;

/** The web-app link's token: 16 letters and digits (about 95 bits), from a CSPRNG. */
export function newWebAppToken(): string {
  let out = '';
  for (let i = 0; i < TOKEN_LENGTH; i++) out += TOKEN_ALPHABET[randomInt(TOKEN_ALPHABET.length)];
  return out;
}

/**
 * Publishing (CONSOLE-SHAPES §4.5): each publish adds an immutable version copied from the
 * cleaned draft and makes it the running config; cancel-publish stops it; the history lists the
 * versions and any of them can be copied back into the draft. The web-app token is made lazily.
 */
@Injectable()
export class AppPublishService {
  constructor(
    private readonly repo: AppRepository,
    private readonly resolver: ConfigResolver,
  ) {}

  async publish(accountId: string, appId: string): Promise<void> {
    const app = await this.repo.owned(accountId, appId);
    const draft = await this.repo.draftOf(app);
    // What the draft reads as: tools, workflows and datasets that are gone are not published.
    const { config } = await this.resolver.resolve(accountId, pickConfig(draft));
    await this.repo.publish(app, config);
  }

  async cancelPublish(accountId: string, appId: string): Promise<void> {
    const app = await this.repo.owned(accountId, appId);
    if (app.status !== 'published' || !(await this.repo.unpublish(app)))
      throw new FailException('The app is not published');
  }

  async histories(
    accountId: string,
    appId: string,
    q: ListPublishHistoriesDto,
  ): Promise<Page<PublishHistoryDto>> {
    const app = await this.repo.owned(accountId, appId);
    const page = await this.repo.histories(app, q);
    return {
      paginator: page.paginator,
      list: page.list.map((v) => ({
        id: v.id,
        version: v.version,
        created_at: toUnix(v.created_at),
      })),
    };
  }

  /**
   * Copies a published version into the draft, re-checked as a read would: a model that is gone
   * becomes the default, tools, workflows and datasets that are gone are left out.
   */
  async fallback(accountId: string, appId: string, versionId: string): Promise<void> {
    const app = await this.repo.owned(accountId, appId);
    const version = await this.repo.publishedVersion(app, versionId);
    const { config } = await this.resolver.resolve(accountId, pickConfig(version));
    const draft = await this.repo.draftOf(app);
    await this.repo.updateDraft(draft.id, config);
  }

  /** `{web_app: {token, status}}`; a published app without a token gets one now. */
  async publishedConfig(accountId: string, appId: string): Promise<PublishedConfigDto> {
    const app = await this.repo.owned(accountId, appId);
    if (app.status !== 'published') return { web_app: { token: '', status: app.status } };
    const token = app.token ?? (await this.repo.ensureToken(app, newWebAppToken()));
    return token
      ? { web_app: { token, status: 'published' } }
      : // Unpublished meanwhile.
        { web_app: { token: '', status: 'draft' } };
  }

  async regenerateToken(accountId: string, appId: string): Promise<WebAppTokenDto> {
    const app = await this.repo.owned(accountId, appId);
    const token = newWebAppToken();
    if (app.status !== 'published' || !(await this.repo.replaceToken(app, token)))
      throw new FailException('The app is not published; publish it to get a web-app link');
    return { token };
  }
}
