import {
  ExpiringMap,
  FailException,
  maskSecret,
  NotFoundError,
  SecretBox,
  toUnix,
  ValidateError,
} from '@app/common';
import { AppConfig } from '@app/config';
import { SsrfPolicy } from '@app/http';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AccountChanges } from 'src/modules/auth/services/account-changes.service';
import { CatalogProvider } from './catalog/catalog.schema';
import { ModelCatalog } from './catalog/model-catalog.service';
import { CredentialDto, SetCredentialDto } from './dto/credential.dto';
import { ModelCredentialEntity } from './entities/model-credential.entity';

interface SealedSecret {
  api_key?: string;
  organization?: string;
}

/** What a call to a provider uses, and where it came from. */
export interface ResolvedCredentials {
  apiKey?: string;
  baseUrl: string;
  organization?: string;
  /** The base URL was given by an account: calls go through the SSRF guard. */
  userSupplied: boolean;
  source: 'account' | 'server' | 'none';
}

/** An account's own credentials for one provider, opened; null when it has none. */
type OwnCredentials = { apiKey?: string; organization?: string; baseUrl: string } | null;

/** (account, provider) pairs whose credentials are kept opened between calls. */
const RESOLVED_CACHE_SIZE = 10_000;

/** Per-account provider credentials (sealed at rest), falling back to the server's env defaults. */
@Injectable()
export class CredentialsService {
  private readonly policy: SsrfPolicy;
  /**
   * What `resolve` read for (account, provider), kept while AccountChanges allows caching (as
   * API keys and sessions are): a model call then costs no database read and no decryption.
   * Setting or deleting credentials drops the account's entries in every process.
   */
  private readonly own: ExpiringMap<string, { accountId: string; value: OwnCredentials }>;

  constructor(
    private readonly config: AppConfig,
    private readonly catalog: ModelCatalog,
    private readonly box: SecretBox,
    private readonly changes: AccountChanges,
    @InjectRepository(ModelCredentialEntity)
    private readonly creds: Repository<ModelCredentialEntity>,
  ) {
    this.policy = new SsrfPolicy(config.env.OUTBOUND_ALLOW_HOSTS);
    this.own = new ExpiringMap(RESOLVED_CACHE_SIZE, changes.cacheTtlMs);
    changes.onChange((id) =>
      id ? this.own.deleteWhere((e) => e.accountId === id) : this.own.clear(),
    );
  }

  async list(accountId: string): Promise<CredentialDto[]> {
    const rows = await this.creds.find({ where: { account_id: accountId } });
    return this.catalog.list().map((p) =>
      this.toDto(
        p,
        rows.find((r) => r.provider === p.name),
      ),
    );
  }

  async set(
    accountId: string,
    providerName: string,
    dto: SetCredentialDto,
  ): Promise<CredentialDto> {
    const provider = this.catalog.provider(providerName);
    const existing = await this.creds.findOne({
      where: { account_id: accountId, provider: providerName },
    });
    const previous = existing ? this.box.openJson<SealedSecret>(existing.secret) : {};
    const apiKey = dto.api_key !== undefined ? dto.api_key.trim() : previous.api_key;
    const organization =
      dto.organization !== undefined ? dto.organization.trim() : previous.organization;
    const baseUrl =
      dto.base_url !== undefined
        ? dto.base_url.trim().replace(/\/+$/, '')
        : (existing?.base_url ?? '');
    const errors: Record<string, string[]> = {};
    if (provider.credentials.api_key === 'none' && apiKey)
      errors.api_key = [`${provider.label} takes no API key`];
    if (provider.credentials.api_key === 'required' && !apiKey)
      errors.api_key = [`api_key is required for ${provider.label}`];
    if (provider.credentials.base_url === 'required' && !baseUrl)
      errors.base_url = [`base_url is required for ${provider.label}`];
    if (provider.credentials.base_url === 'none' && dto.base_url) {
      errors.base_url = [`${provider.label} takes no base_url (set it server-wide instead)`];
    }
    if (organization && !provider.credentials.organization)
      errors.organization = [`${provider.label} takes no organization`];
    if (baseUrl) {
      const problem = this.checkBaseUrl(baseUrl);
      if (problem) errors.base_url = [problem];
    }
    if (Object.keys(errors).length) throw new ValidateError(errors);
    const row = existing ?? this.creds.create({ account_id: accountId, provider: providerName });
    row.secret = this.box.sealJson({
      api_key: apiKey || undefined,
      organization: organization || undefined,
    });
    row.api_key_hint = apiKey ? maskSecret(apiKey) : '';
    row.base_url = baseUrl;
    row.last_tested_at = null;
    row.last_test_status = null;
    row.last_test_error = null;
    await this.creds.save(row);
    await this.changes.changed(accountId);
    return this.toDto(provider, row);
  }

  async delete(accountId: string, providerName: string): Promise<void> {
    this.catalog.provider(providerName);
    const res = await this.creds.delete({ account_id: accountId, provider: providerName });
    if (!res.affected) throw new NotFoundError(`You have no credentials for "${providerName}"`);
    await this.changes.changed(accountId);
  }

  async recordTest(
    accountId: string,
    providerName: string,
    ok: boolean,
    error: string | null,
  ): Promise<void> {
    await this.creds.update(
      { account_id: accountId, provider: providerName },
      {
        last_tested_at: new Date(),
        last_test_status: ok ? 'ok' : 'failed',
        last_test_error: error?.slice(0, 500) ?? null,
      },
    );
  }

  /** Credentials for a call: the account's own, else the server's; a clear `fail` when neither. */
  async resolve(accountId: string | null, providerName: string): Promise<ResolvedCredentials> {
    const provider = this.catalog.provider(providerName);
    const own = accountId ? await this.ownCredentials(accountId, providerName) : null;
    if (own) {
      return {
        apiKey: own.apiKey,
        organization: own.organization,
        baseUrl: own.baseUrl || this.serverBaseUrl(provider),
        userSupplied: !!own.baseUrl,
        source: 'account',
      };
    }
    const { apiKey, baseUrl, organization, configured } = this.serverDefaults(provider);
    if (!configured) {
      // Name only what is missing and required (openai_compatible needs a base URL, not a key).
      const hint = [
        provider.credentials.api_key === 'required' && !apiKey ? provider.env.api_key : undefined,
        provider.credentials.base_url === 'required' && !baseUrl
          ? provider.env.base_url
          : undefined,
      ]
        .filter(Boolean)
        .join(' and ');
      throw new FailException(
        `${provider.label} is not configured: add your credentials with POST /language-models/credentials/${provider.name}` +
          (hint ? `, or ask the administrator to set ${hint} on the server` : ''),
      );
    }
    return { apiKey, organization, baseUrl, userSupplied: false, source: 'server' };
  }

  private async ownCredentials(accountId: string, providerName: string): Promise<OwnCredentials> {
    const key = `${accountId}:${providerName}`;
    const hit = this.own.get(key);
    if (hit) return hit.value;
    const generation = this.changes.generation;
    const row = await this.creds.findOne({
      where: { account_id: accountId, provider: providerName },
    });
    let value: OwnCredentials = null;
    if (row) {
      const secret = this.box.openJson<SealedSecret>(row.secret);
      value = { apiKey: secret.api_key, organization: secret.organization, baseUrl: row.base_url };
    }
    if (this.changes.mayCache(generation)) this.own.set(key, { accountId, value });
    return value;
  }

  /** Providers calls can be made to for this account (its own rows, else server defaults). */
  async configuredProviders(accountId: string): Promise<Set<string>> {
    const rows = await this.creds.find({
      where: { account_id: accountId },
      select: { provider: true },
    });
    const own = new Set(rows.map((r) => r.provider));
    return new Set(
      this.catalog
        .list()
        .filter((p) => own.has(p.name) || this.serverDefaults(p).configured)
        .map((p) => p.name),
    );
  }

  /** The server's env defaults for a provider, and whether they are enough to call it. */
  private serverDefaults(provider: CatalogProvider) {
    const env = this.config.env as unknown as Record<string, string | undefined>;
    const apiKey = provider.env.api_key ? env[provider.env.api_key] : undefined;
    const baseUrl = this.serverBaseUrl(provider);
    return {
      apiKey,
      baseUrl,
      organization: provider.env.organization ? env[provider.env.organization] : undefined,
      configured: (provider.credentials.api_key !== 'required' || !!apiKey) && !!baseUrl,
    };
  }

  private serverBaseUrl(provider: CatalogProvider): string {
    const env = this.config.env as unknown as Record<string, string | undefined>;
    return (
      (provider.env.base_url ? env[provider.env.base_url] : undefined) ?? provider.default_base_url
    ).replace(/\/+$/, '');
  }

  private checkBaseUrl(value: string): string | undefined {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return 'base_url must be a valid URL';
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return 'base_url must be an http(s) URL';
    if (url.username || url.password) return 'base_url must not contain credentials; use api_key';
    try {
      this.policy.assertHostAllowed(url.hostname);
    } catch (err) {
      return (err as Error).message;
    }
    return undefined;
  }

  private toDto(provider: CatalogProvider, row?: ModelCredentialEntity): CredentialDto {
    const fields = {
      api_key: provider.credentials.api_key,
      base_url: provider.credentials.base_url,
      ...(provider.credentials.organization ? { organization: 'optional' } : {}),
    };
    if (row) {
      const secret = this.box.openJson<SealedSecret>(row.secret);
      return {
        provider: provider.name,
        label: provider.label,
        configured: true,
        source: 'account',
        api_key: row.api_key_hint,
        base_url: row.base_url,
        organization: secret.organization ?? '',
        fields,
        last_tested_at: toUnix(row.last_tested_at),
        last_test_status: row.last_test_status,
        last_test_error: row.last_test_error,
      };
    }
    const server = this.serverDefaults(provider).configured;
    return {
      provider: provider.name,
      label: provider.label,
      configured: server,
      source: server ? 'server' : 'none',
      api_key: '',
      base_url: '',
      organization: '',
      fields,
      last_tested_at: 0,
      last_test_status: null,
      last_test_error: null,
    };
  }
}
