import {
  AuthPrincipal,
  escapeLike,
  ExpiringMap,
  Page,
  paginate,
  SecretBox,
  toUnix,
} from '@app/common';
import { findOwnedOrFail } from '@app/database';
import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ApiKeyDto, CreateApiKeyDto, ListApiKeysDto, UpdateApiKeyDto } from '../dto/api-key.dto';
import { ApiKeyEntity } from '../entities/api-key.entity';
import { AccountChanges } from './account-changes.service';
import { AccountService } from './account.service';
import { API_KEY_PREFIX, sha256Hex, TokenService } from './token.service';

const NOT_FOUND = 'The API key does not exist';

/** A key that authenticated, as this process remembers it (by the key's sha256). */
interface KnownKey {
  principal: AuthPrincipal & { apiKeyId: string };
  /** When last_used_at was last written (ms), or 0. */
  lastUsedAt: number;
}

const KEY_CACHE_SIZE = 10_000;

/**
 * Service-API keys: found by sha256, stored sealed so the owner's list shows them (as the original
 * console and Dify do), never in plain text; they authorize only /openapi and /v1 routes.
 */
@Injectable()
export class ApiKeyService {
  private readonly logger = new Logger(ApiKeyService.name);
  /**
   * Keys that authenticated, kept while AccountChanges allows caching (as profiles and sessions
   * are): a service-API call then costs no database read for its key and its account's role.
   * Disabling or deleting a key, and any change to its account (a role, a password), drops the
   * account's keys in every process.
   */
  private readonly known: ExpiringMap<string, KnownKey>;

  constructor(
    private readonly tokens: TokenService,
    private readonly box: SecretBox,
    private readonly accounts: AccountService,
    private readonly changes: AccountChanges,
    @InjectRepository(ApiKeyEntity) private readonly keys: Repository<ApiKeyEntity>,
  ) {
    this.known = new ExpiringMap(KEY_CACHE_SIZE, changes.cacheTtlMs);
    changes.onChange((id) =>
      id ? this.known.deleteWhere((k) => k.principal.accountId === id) : this.known.clear(),
    );
  }

  list(accountId: string, q: ListApiKeysDto): Promise<Page<ApiKeyDto>> {
    const qb = this.keys
      .createQueryBuilder('k')
      .where('k.account_id = :accountId', { accountId })
      .orderBy('k.created_at', 'DESC')
      .addOrderBy('k.id', 'DESC');
    if (q.search_word) qb.andWhere('k.remark ILIKE :w', { w: `%${escapeLike(q.search_word)}%` });
    return paginate(qb, q, (k) => this.toDto(k));
  }

  async create(accountId: string, dto: CreateApiKeyDto): Promise<ApiKeyDto> {
    const { key, hash, hint } = this.tokens.newApiKey();
    const row = await this.keys.save(
      this.keys.create({
        account_id: accountId,
        key_hash: hash,
        key_sealed: this.box.seal(key),
        hint,
        remark: dto.remark ?? '',
        is_active: dto.is_active ?? true,
      }),
    );
    return this.toDto(row);
  }

  async update(accountId: string, id: string, dto: UpdateApiKeyDto): Promise<ApiKeyDto> {
    const row = await findOwnedOrFail(this.keys, id, accountId, NOT_FOUND);
    if (dto.remark !== undefined) row.remark = dto.remark;
    if (dto.is_active !== undefined) row.is_active = dto.is_active;
    const saved = await this.keys.save(row);
    // A disabled key stops working in every process at once.
    if (dto.is_active !== undefined) await this.changes.changed(accountId);
    return this.toDto(saved);
  }

  async delete(accountId: string, id: string): Promise<void> {
    const row = await findOwnedOrFail(this.keys, id, accountId, NOT_FOUND);
    await this.keys.delete({ id: row.id });
    await this.changes.changed(accountId);
  }

  /** Disables every key of the account (in every process at once); how many were active. */
  async disableAll(accountId: string): Promise<number> {
    const res = await this.keys.update(
      { account_id: accountId, is_active: true },
      { is_active: false },
    );
    await this.changes.changed(accountId);
    return res.affected ?? 0;
  }

  /** The principal of a presented key, or null (unknown, disabled, or its account is gone). */
  async authenticate(key: string): Promise<AuthPrincipal | null> {
    if (!key.startsWith(API_KEY_PREFIX) || key.length > 200) return null;
    const hash = sha256Hex(key);
    const hit = this.known.get(hash);
    if (hit) {
      await this.touch(hit);
      return hit.principal;
    }
    const generation = this.changes.generation;
    const row = await this.keys.findOne({ where: { key_hash: hash } });
    if (!row || !row.is_active) return null;
    const role = await this.accounts.roleOf(row.account_id);
    if (!role) return null;
    const known: KnownKey = {
      principal: { accountId: row.account_id, role, apiKeyId: row.id },
      lastUsedAt: row.last_used_at?.getTime() ?? 0,
    };
    await this.touch(known);
    if (this.changes.mayCache(generation)) this.known.set(hash, known);
    return known.principal;
  }

  /** last_used_at at minute granularity: no write per request under load. */
  private async touch(k: KnownKey): Promise<void> {
    const now = Date.now();
    if (now - k.lastUsedAt <= 60_000) return;
    k.lastUsedAt = now;
    await this.keys.update({ id: k.principal.apiKeyId }, { last_used_at: new Date(now) });
  }

  private toDto(k: ApiKeyEntity): ApiKeyDto {
    const key = this.reveal(k);
    return {
      id: k.id,
      api_key: key ?? k.hint,
      is_masked: key === undefined,
      is_active: k.is_active,
      remark: k.remark,
      last_used_at: toUnix(k.last_used_at),
      updated_at: toUnix(k.updated_at),
      created_at: toUnix(k.created_at),
    };
  }

  /** The whole key, or undefined when it was never sealed or its encryption key is gone. */
  private reveal(k: ApiKeyEntity): string | undefined {
    if (!k.key_sealed) return undefined;
    try {
      return this.box.open(k.key_sealed);
    } catch (err) {
      // A rotated ENCRYPTION_KEY missing from ENCRYPTION_KEYS_PREVIOUS: the key still works.
      this.logger.warn(`API key ${k.id} cannot be shown: ${(err as Error).message}`);
      return undefined;
    }
  }
}
