import {
  isUuid,
  NotFoundError,
  Page,
  paginate,
  SecretBox,
  toUnix,
  ValidateError,
} from '@app/common';
import { findOwnedOrFail, TransactionService } from '@app/database';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { ToolRuntime } from 'src/modules/tool/runtime/tool-runtime.service';
import { In, QueryFailedError, Repository, type EntityManager } from 'typeorm';
import { maskHeaders, mergeHeaders, type HeaderPair } from './api-tool-headers';
import {
  ApiToolDetailDto,
  ApiToolInputDto,
  ApiToolProviderDto,
  ApiToolProviderListItemDto,
  ApiToolSummaryDto,
  CreatedApiToolProviderDto,
  ListApiToolProvidersDto,
  SaveApiToolProviderDto,
  ValidateOpenApiSchemaResultDto,
} from './dto/api-tool.dto';
import { ApiToolProviderEntity } from './entities/api-tool-provider.entity';
import { ApiToolEntity } from './entities/api-tool.entity';
import { OpenApiDocumentError, type ParsedApiDocument } from './openapi/api-tool.types';
import { parseApiDocument } from './openapi/openapi-parser';
import { pythonTypeOf } from './openapi/schema-convert';

const PROVIDER_NOT_FOUND = 'The API tool provider does not exist';
const TOOL_NOT_FOUND = 'The API tool does not exist';
const NAME_TAKEN = 'An API tool provider with this name already exists';

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function isUniqueViolation(err: unknown): boolean {
  return err instanceof QueryFailedError && (err.driverError as { code?: string }).code === '23505';
}

/** An API tool as apps show it (no headers): its provider and the tool row. */
export interface ApiToolDescription {
  provider: { id: string; name: string; icon: string; description: string };
  tool: { id: string; name: string; description: string };
}

/** What the runtime needs to call one tool. */
export interface LoadedApiTool {
  provider: ApiToolProviderEntity;
  tool: ApiToolEntity;
  headers: HeaderPair[];
}

/**
 * API tool providers: an OpenAPI (or LLMOps-format) document of the account, parsed into one
 * tool per operationId. Provider and tools are written together; headers are sealed at rest and
 * masked whenever they are read.
 */
@Injectable()
export class ApiToolService {
  constructor(
    @InjectRepository(ApiToolProviderEntity)
    private readonly providers: Repository<ApiToolProviderEntity>,
    @InjectRepository(ApiToolEntity) private readonly tools: Repository<ApiToolEntity>,
    private readonly tx: TransactionService,
    private readonly box: SecretBox,
    private readonly runtime: ToolRuntime,
  ) {}

  /** Parses and checks a document; a bad one is one validate_error naming where. */
  async parse(text: string): Promise<ParsedApiDocument> {
    let doc: ParsedApiDocument;
    try {
      doc = await parseApiDocument(text);
    } catch (e) {
      if (!(e instanceof OpenApiDocumentError)) throw e;
      const where = e.path ? ` at ${e.path}` : '';
      throw new ValidateError({ openapi_schema: [`Invalid openapi_schema${where}: ${e.reason}`] });
    }
    for (const op of doc.operations) {
      const problem = this.runtime.schemaProblem(op.input_schema);
      if (problem)
        throw new ValidateError({
          openapi_schema: [`Invalid openapi_schema at operation ${op.name}: ${problem}`],
        });
    }
    return doc;
  }

  async validate(text: string): Promise<ValidateOpenApiSchemaResultDto> {
    const doc = await this.parse(text);
    return {
      format: doc.format,
      description: doc.description,
      tools: doc.operations.map((o) => o.name),
    };
  }

  async list(
    accountId: string,
    q: ListApiToolProvidersDto,
  ): Promise<Page<ApiToolProviderListItemDto>> {
    const qb = this.providers
      .createQueryBuilder('p')
      .where('p.account_id = :accountId', { accountId })
      .orderBy('p.created_at', 'DESC')
      .addOrderBy('p.id', 'DESC');
    if (q.search_word) qb.andWhere('p.name ILIKE :w', { w: `%${escapeLike(q.search_word)}%` });
    const page = await paginate(qb, q);
    const ids = page.list.map((p) => p.id);
    const tools = ids.length
      ? await this.tools.find({
          where: { provider_id: In(ids), account_id: accountId },
          order: { position: 'ASC' },
        })
      : [];
    return {
      paginator: page.paginator,
      list: page.list.map((p) => ({
        id: p.id,
        name: p.name,
        icon: p.icon,
        description: p.description,
        headers: maskHeaders(this.openHeaders(p)),
        tools: tools.filter((t) => t.provider_id === p.id).map((t) => this.summary(t)),
        created_at: toUnix(p.created_at),
      })),
    };
  }

  async create(accountId: string, dto: SaveApiToolProviderDto): Promise<CreatedApiToolProviderDto> {
    const doc = await this.parse(dto.openapi_schema);
    const headers = mergeHeaders(dto.headers ?? [], []);
    await this.assertNameFree(accountId, dto.name);
    const id = await this.write(async (m) => {
      const row = await m.save(
        m.create(ApiToolProviderEntity, {
          account_id: accountId,
          name: dto.name,
          icon: dto.icon,
          description: doc.description,
          openapi_schema: dto.openapi_schema,
          headers_sealed: this.box.sealJson(headers),
        }),
      );
      await this.insertTools(m, accountId, row.id, doc);
      return row.id;
    });
    return { id };
  }

  /** Replaces the document (and so every tool) and the headers; masked values keep the secret. */
  async update(accountId: string, id: string, dto: SaveApiToolProviderDto): Promise<void> {
    const row = await findOwnedOrFail(this.providers, id, accountId, PROVIDER_NOT_FOUND);
    const doc = await this.parse(dto.openapi_schema);
    const headers = mergeHeaders(dto.headers ?? [], this.openHeaders(row));
    await this.assertNameFree(accountId, dto.name, row.id);
    await this.write(async (m) => {
      await m.update(
        ApiToolProviderEntity,
        { id: row.id, account_id: accountId },
        {
          name: dto.name,
          icon: dto.icon,
          description: doc.description,
          openapi_schema: dto.openapi_schema,
          headers_sealed: this.box.sealJson(headers),
        },
      );
      await m.delete(ApiToolEntity, { provider_id: row.id, account_id: accountId });
      await this.insertTools(m, accountId, row.id, doc);
    });
  }

  async get(accountId: string, id: string): Promise<ApiToolProviderDto> {
    const p = await findOwnedOrFail(this.providers, id, accountId, PROVIDER_NOT_FOUND);
    return {
      id: p.id,
      name: p.name,
      icon: p.icon,
      description: p.description,
      openapi_schema: p.openapi_schema,
      headers: maskHeaders(this.openHeaders(p)),
      created_at: toUnix(p.created_at),
      updated_at: toUnix(p.updated_at),
    };
  }

  async delete(accountId: string, id: string): Promise<void> {
    const row = await findOwnedOrFail(this.providers, id, accountId, PROVIDER_NOT_FOUND);
    await this.tx.run(async (m) => {
      await m.delete(ApiToolEntity, { provider_id: row.id, account_id: accountId });
      await m.delete(ApiToolProviderEntity, { id: row.id, account_id: accountId });
    });
  }

  async getTool(accountId: string, id: string, toolName: string): Promise<ApiToolDetailDto> {
    const { provider: p, tool: t, headers } = await this.load(accountId, id, toolName);
    return {
      ...this.summary(t),
      server_url: t.server_url,
      input_schema: t.input_schema,
      provider: {
        id: p.id,
        name: p.name,
        icon: p.icon,
        description: p.description,
        headers: maskHeaders(headers),
      },
      created_at: toUnix(t.created_at),
    };
  }

  /** A tool with its provider and clear headers (for calls); not_found across accounts. */
  async load(accountId: string, providerId: string, toolName: string): Promise<LoadedApiTool> {
    const provider = await findOwnedOrFail(
      this.providers,
      providerId,
      accountId,
      PROVIDER_NOT_FOUND,
    );
    const tool = await this.tools.findOne({
      where: { provider_id: provider.id, account_id: accountId, name: toolName },
    });
    if (!tool) throw new NotFoundError(TOOL_NOT_FOUND);
    return { provider, tool, headers: this.openHeaders(provider) };
  }

  /**
   * The account's tools among `refs` (provider id + operationId), in the order asked, for apps
   * that bind them; unknown, malformed and other accounts' references are left out.
   */
  async describeTools(
    accountId: string,
    refs: ReadonlyArray<{ provider_id: string; tool_name: string }>,
  ): Promise<Array<ApiToolDescription | null>> {
    const valid = refs.filter((r) => isUuid(r.provider_id) && r.tool_name);
    if (!valid.length) return refs.map(() => null);
    const providerIds = [...new Set(valid.map((r) => r.provider_id))];
    const [providers, tools] = await Promise.all([
      this.providers.find({ where: { id: In(providerIds), account_id: accountId } }),
      this.tools.find({
        select: { id: true, provider_id: true, name: true, description: true },
        where: {
          provider_id: In(providerIds),
          account_id: accountId,
          name: In([...new Set(valid.map((r) => r.tool_name))]),
        },
      }),
    ]);
    const byId = new Map(providers.map((p) => [p.id, p]));
    return refs.map((r) => {
      const p = byId.get(r.provider_id);
      const t = tools.find((x) => x.provider_id === r.provider_id && x.name === r.tool_name);
      if (!p || !t) return null;
      return {
        provider: { id: p.id, name: p.name, icon: p.icon, description: p.description },
        tool: { id: t.id, name: t.name, description: t.description },
      };
    });
  }

  private summary(t: ApiToolEntity): ApiToolSummaryDto {
    return {
      id: t.id,
      name: t.name,
      description: t.description,
      inputs: t.parameters.map((p): ApiToolInputDto => ({
        name: p.arg,
        description: p.description,
        required: p.required,
        type: pythonTypeOf(p.schema),
      })),
      method: t.method,
      path: t.path,
    };
  }

  private openHeaders(p: ApiToolProviderEntity): HeaderPair[] {
    return p.headers_sealed ? this.box.openJson<HeaderPair[]>(p.headers_sealed) : [];
  }

  private async assertNameFree(accountId: string, name: string, exceptId?: string): Promise<void> {
    const other = await this.providers.findOne({ where: { account_id: accountId, name } });
    if (other && other.id !== exceptId) throw new ValidateError({ name: [NAME_TAKEN] });
  }

  /** One transaction; a concurrent save of the same name loses with the same validate_error. */
  private async write<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    try {
      return await this.tx.run(work);
    } catch (e) {
      if (isUniqueViolation(e)) throw new ValidateError({ name: [NAME_TAKEN] });
      throw e;
    }
  }

  private async insertTools(
    m: EntityManager,
    accountId: string,
    providerId: string,
    doc: ParsedApiDocument,
  ): Promise<void> {
    await m.save(
      doc.operations.map((op, position) =>
        m.create(ApiToolEntity, {
          account_id: accountId,
          provider_id: providerId,
          name: op.name,
          description: op.description,
          method: op.method,
          server_url: op.server_url,
          path: op.path,
          parameters: op.parameters,
          input_schema: op.input_schema,
          body_type: op.body_type,
          body_content_type: op.body_content_type,
          position,
        }),
      ),
    );
  }
}
