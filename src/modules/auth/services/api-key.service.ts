import { AuthPrincipal, escapeLike, Page, paginate, SecretBox, toUnix } from '@app/common';
import { findOwnedOrFail } from '@app/database';
import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ApiKeyDto, CreateApiKeyDto, ListApiKeysDto, UpdateApiKeyDto } from '../dto/api-key.dto';
import { ApiKeyEntity } from '../entities/api-key.entity';
import { AccountService } from './account.service';
import { API_KEY_PREFIX, sha256Hex, TokenService } from './token.service';

const NOT_FOUND = 'The API key does not exist';

/**
 * Service-API keys: found by sha256, stored sealed so the owner's list shows them (as the original
 * console and Dify do), never in plain text; they authorize only /openapi and /v1 routes.
 */
@Injectable()
export class ApiKeyService {
  private readonly logger = new Logger(ApiKeyService.name);

  constructor(
    private readonly tokens: TokenService,
    private readonly box: SecretBox,
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
