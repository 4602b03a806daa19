import { AuthPrincipal, Page, paginate, toUnix } from '@app/common';
import { findOwnedOrFail } from '@app/database';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ApiKeyDto, CreateApiKeyDto, ListApiKeysDto, UpdateApiKeyDto } from '../dto/api-key.dto';
import { ApiKeyEntity } from '../entities/api-key.entity';
import { AccountService } from './account.service';
import { API_KEY_PREFIX, sha256Hex, TokenService } from './token.service';

const NOT_FOUND = 'The API key does not exist';

/** Service-API keys: shown once, stored as sha256, authorize only /openapi and /v1 routes. */
@Injectable()
export class ApiKeyService {
  constructor(
    private readonly tokens: TokenService,
    private readonly accounts: AccountService,
    @InjectRepository(ApiKeyEntity) private readonly keys: Repository<ApiKeyEntity>,
  ) {}

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
        hint,
        remark: dto.remark ?? '',
        is_active: dto.is_active ?? true,
      }),
    );
    return { ...this.toDto(row), api_key: key };
  }

  async update(accountId: string, id: string, dto: UpdateApiKeyDto): Promise<ApiKeyDto> {
    const row = await findOwnedOrFail(this.keys, id, accountId, NOT_FOUND);
    if (dto.remark !== undefined) row.remark = dto.remark;
    if (dto.is_active !== undefined) row.is_active = dto.is_active;
    return this.toDto(await this.keys.save(row));
  }

  async delete(accountId: string, id: string): Promise<void> {
    const row = await findOwnedOrFail(this.keys, id, accountId, NOT_FOUND);
    await this.keys.delete({ id: row.id });
  }

  /** The principal of a presented key, or null (unknown, disabled, or its account is gone). */
  async authenticate(key: string): Promise<AuthPrincipal | null> {
    if (!key.startsWith(API_KEY_PREFIX) || key.length > 200) return null;
    const row = await this.keys.findOne({ where: { key_hash: sha256Hex(key) } });
    if (!row || !row.is_active) return null;
    const role = await this.accounts.roleOf(row.account_id);
    if (!role) return null;
    // last_used_at at minute granularity: no write per request under load.
    if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > 60_000) {
      await this.keys.update({ id: row.id }, { last_used_at: new Date() });
    }
    return { accountId: row.account_id, role, apiKeyId: row.id };
  }

  private toDto(k: ApiKeyEntity): ApiKeyDto {
    return {
      id: k.id,
      api_key: k.hint,
      is_active: k.is_active,
      remark: k.remark,
      last_used_at: toUnix(k.last_used_at),
      updated_at: toUnix(k.updated_at),
      created_at: toUnix(k.created_at),
    };
  }
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
