import { NotFoundError, paginate, type Page } from '@app/common';
import { TransactionService } from '@app/database';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, QueryFailedError, Repository } from 'typeorm';
import { McpProviderEntity } from './entities/mcp-provider.entity';
import { McpToolEntity } from './entities/mcp-tool.entity';

export type McpToolRow = Pick<
  McpToolEntity,
  'name' | 'description' | 'input_schema' | 'inputs' | 'annotations'
>;

export const PROVIDER_MISSING = 'The MCP tool provider does not exist';

/** A unique index said no: the name is taken in this account. */
export function isUniqueViolation(err: unknown): boolean {
  return err instanceof QueryFailedError && (err as unknown as { code?: string }).code === '23505';
}

/** Providers and their tools; every query filters by account. */
@Injectable()
export class McpProviderRepository {
  constructor(
    private readonly tx: TransactionService,
    @InjectRepository(McpProviderEntity)
    private readonly providers: Repository<McpProviderEntity>,
    @InjectRepository(McpToolEntity)
    private readonly tools: Repository<McpToolEntity>,
  ) {}

  /** Newest first, name matched case-insensitively, with each page's tools in one query. */
  async page(
    accountId: string,
    req: { current_page?: number; page_size?: number; search_word?: string },
  ): Promise<Page<{ provider: McpProviderEntity; tools: McpToolEntity[] }>> {
    const qb = this.providers
      .createQueryBuilder('p')
      .where('p.account_id = :accountId', { accountId })
      .orderBy('p.created_at', 'DESC')
      .addOrderBy('p.id', 'DESC');
    if (req.search_word) {
      const like = `%${req.search_word.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      qb.andWhere('p.name ILIKE :like', { like });
    }
    const page = await paginate(qb, req);
    const tools = await this.toolsOf(
      accountId,
      page.list.map((p) => p.id),
    );
    return {
      paginator: page.paginator,
      list: page.list.map((provider) => ({
        provider,
        tools: tools.filter((t) => t.provider_id === provider.id),
      })),
    };
  }

  async findOwned(accountId: string, id: string): Promise<McpProviderEntity> {
    const row = await this.providers.findOne({ where: { id, account_id: accountId } });
    if (!row) throw new NotFoundError(PROVIDER_MISSING);
    return row;
  }

  async toolsOf(accountId: string, providerIds: string[]): Promise<McpToolEntity[]> {
    if (providerIds.length === 0) return [];
    return this.tools.find({
      where: { account_id: accountId, provider_id: In(providerIds) },
      order: { name: 'ASC' },
    });
  }

  async findTool(
    accountId: string,
    providerId: string,
    name: string,
  ): Promise<McpToolEntity | null> {
    return this.tools.findOne({
      where: { account_id: accountId, provider_id: providerId, name },
    });
  }

  async nameTaken(accountId: string, name: string, exceptId?: string): Promise<boolean> {
    const row = await this.providers.findOne({
      where: { account_id: accountId, name },
      select: { id: true },
    });
    return !!row && row.id !== exceptId;
  }

  /** Writes the provider and replaces its tools, in one transaction. */
  async saveWithTools(
    provider: McpProviderEntity,
    tools: McpToolRow[],
  ): Promise<McpProviderEntity> {
    return this.tx.run(async (m) => {
      const saved = await m.save(McpProviderEntity, provider);
      await m.delete(McpToolEntity, { account_id: saved.account_id, provider_id: saved.id });
      if (tools.length) {
        const rows = tools.map((t) =>
          m.create(McpToolEntity, { ...t, account_id: saved.account_id, provider_id: saved.id }),
        );
        await m.save(McpToolEntity, rows);
      }
      return saved;
    });
  }

  /** Records the outcome of the last connection (only when it changed). */
  async setLastError(provider: McpProviderEntity, error: string | null): Promise<void> {
    if (provider.last_error === error) return;
    await this.providers.update(
      { id: provider.id, account_id: provider.account_id },
      { last_error: error },
    );
    provider.last_error = error;
  }

  async delete(accountId: string, id: string): Promise<void> {
    await this.tx.run(async (m) => {
      const res = await m.delete(McpProviderEntity, { id, account_id: accountId });
      if (!res.affected) throw new NotFoundError(PROVIDER_MISSING);
      await m.delete(McpToolEntity, { account_id: accountId, provider_id: id });
    });
  }
}
