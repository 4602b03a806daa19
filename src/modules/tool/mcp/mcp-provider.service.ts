import {
  FailException,
  isUuid,
  maskSecret,
  NotFoundError,
  SecretBox,
  toUnix,
  ValidateError,
  type Page,
} from '@app/common';
import { Injectable } from '@nestjs/common';
import { ToolRuntime } from '../runtime/tool-runtime.service';
import {
  McpHeaderDto,
  McpProviderDto,
  McpToolDetailDto,
  McpToolInputDto,
  McpToolItemDto,
  SaveMcpProviderDto,
} from './dto/mcp-provider.dto';
import { McpProviderEntity } from './entities/mcp-provider.entity';
import { McpToolEntity } from './entities/mcp-tool.entity';
import {
  McpConnectionError,
  McpConnector,
  type McpEndpoint,
  type McpListedTool,
  type McpListing,
} from './mcp-connector';
import {
  isUniqueViolation,
  McpProviderRepository,
  PROVIDER_MISSING,
  type McpToolRow,
} from './mcp-provider.repository';

interface Header {
  key: string;
  value: string;
}

const TOOL_MISSING = 'The MCP tool does not exist';
/** Headers the transport sets itself: a provider's own value would break the protocol. */
const RESERVED_HEADERS = new Set([
  'accept',
  'connection',
  'content-length',
  'content-type',
  'host',
  'last-event-id',
  'mcp-protocol-version',
  'mcp-session-id',
  'transfer-encoding',
]);
const MAX_TOOL_NAME = 200;
const MAX_TOOL_DESCRIPTION = 4000;
const MAX_SCHEMA_CHARS = 64 * 1024;

/** JSON Schema type -> the Python type name the console shows (CONSOLE-SHAPES §1.1). */
function pythonType(schema: unknown): McpToolInputDto['type'] {
  const raw = (schema as { type?: unknown } | null)?.type;
  const type = Array.isArray(raw) ? raw.find((t) => t !== 'null') : raw;
  if (type === 'integer') return 'int';
  if (type === 'number') return 'float';
  if (type === 'boolean') return 'bool';
  return 'str';
}

/** The console's `inputs[]`: one per top-level property of the tool's schema. */
export function inputsOf(schema: Record<string, unknown>): McpToolInputDto[] {
  const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  return Object.entries(props).map(([name, prop]) => ({
    name,
    description: typeof prop?.description === 'string' ? prop.description : '',
    required: required.has(name),
    type: pythonType(prop),
  }));
}

/**
 * MCP tool providers: remote servers added by URL, their tools listed on create, update and
 * refresh and stored with their input schemas. Headers are sealed at rest and masked on read.
 */
@Injectable()
export class McpProviderService {
  constructor(
    private readonly repo: McpProviderRepository,
    private readonly connector: McpConnector,
    private readonly box: SecretBox,
    private readonly runtime: ToolRuntime,
  ) {}

  async list(
    accountId: string,
    req: { current_page?: number; page_size?: number; search_word?: string },
  ): Promise<Page<McpProviderDto>> {
    const page = await this.repo.page(accountId, req);
    return {
      paginator: page.paginator,
      list: page.list.map(({ provider, tools }) => this.toDto(provider, tools)),
    };
  }

  async get(accountId: string, id: string): Promise<McpProviderDto> {
    const provider = await this.repo.findOwned(accountId, id);
    return this.toDto(provider, await this.repo.toolsOf(accountId, [id]));
  }

  /** Connects, lists the tools and stores both; nothing is stored when the server fails. */
  async create(accountId: string, dto: SaveMcpProviderDto): Promise<McpProviderDto> {
    const url = dto.url.trim();
    const headers = this.checkHeaders(dto.headers ?? []);
    await this.checkNameAndUrl(accountId, dto.name, url);
    const listing = await this.listOrReject({ url, headers: toRecord(headers) });
    const tools = this.checkTools(listing.tools);
    const provider = new McpProviderEntity();
    Object.assign(provider, {
      account_id: accountId,
      name: dto.name,
      icon: dto.icon,
      description: dto.description?.trim() || listing.about,
      url,
      transport: listing.transport,
      headers: this.box.sealJson(headers),
      last_error: null,
      tools_refreshed_at: new Date(),
    });
    const saved = await this.save(provider, tools);
    return this.get(accountId, saved.id);
  }

  /** Saves new settings, reconnects and relists; on failure nothing changes. */
  async update(accountId: string, id: string, dto: SaveMcpProviderDto): Promise<McpProviderDto> {
    const provider = await this.repo.findOwned(accountId, id);
    const url = dto.url.trim();
    const headers = this.checkHeaders(this.unmask(dto.headers ?? [], this.headersOf(provider)));
    await this.checkNameAndUrl(accountId, dto.name, url, id);
    const listing = await this.listOrReject({ url, headers: toRecord(headers) });
    const tools = this.checkTools(listing.tools);
    Object.assign(provider, {
      name: dto.name,
      icon: dto.icon,
      description: dto.description?.trim() || listing.about,
      url,
      transport: listing.transport,
      headers: this.box.sealJson(headers),
      last_error: null,
      tools_refreshed_at: new Date(),
    });
    await this.save(provider, tools);
    return this.get(accountId, id);
  }

  /** Lists the server's tools again (detecting the transport again); keeps the old ones on failure. */
  async refresh(accountId: string, id: string): Promise<McpProviderDto> {
    const provider = await this.repo.findOwned(accountId, id);
    let listing: McpListing;
    try {
      listing = await this.connector.list({
        url: provider.url,
        headers: this.headerRecord(provider),
      });
    } catch (err) {
      const message = (err as Error).message;
      await this.repo.setLastError(provider, message.slice(0, 500));
      throw new FailException(message);
    }
    const tools = this.checkTools(listing.tools);
    provider.transport = listing.transport;
    provider.last_error = null;
    provider.tools_refreshed_at = new Date();
    await this.repo.saveWithTools(provider, tools);
    return this.get(accountId, id);
  }

  async delete(accountId: string, id: string): Promise<void> {
    await this.repo.delete(accountId, id);
  }

  async tool(accountId: string, id: string, name: string): Promise<McpToolDetailDto> {
    const provider = await this.repo.findOwned(accountId, id);
    const tool = await this.repo.findTool(accountId, id, name);
    if (!tool) throw new NotFoundError(TOOL_MISSING);
    return {
      ...this.toolItem(tool),
      input_schema: tool.input_schema,
      annotations: tool.annotations,
      provider: {
        id: provider.id,
        name: provider.name,
        icon: provider.icon,
        description: provider.description,
        headers: this.maskedHeaders(provider),
      },
    };
  }

  /** The provider and tool behind a tool reference (McpToolSource); not_found otherwise. */
  async resolve(
    accountId: string,
    providerId: string,
    toolName: string,
  ): Promise<{ provider: McpProviderEntity; tool: McpToolEntity }> {
    if (!isUuid(providerId)) throw new NotFoundError(PROVIDER_MISSING);
    const provider = await this.repo.findOwned(accountId, providerId);
    const tool = await this.repo.findTool(accountId, providerId, toolName);
    if (!tool) throw new NotFoundError(TOOL_MISSING);
    return { provider, tool };
  }

  /** How to reach the provider's server for a call (its stored transport, its headers). */
  endpoint(provider: McpProviderEntity): McpEndpoint {
    return {
      url: provider.url,
      transport: provider.transport as McpEndpoint['transport'],
      headers: this.headerRecord(provider),
    };
  }

  /** Remembers whether the last connection worked, for `status` and `last_error`. */
  async recordConnection(provider: McpProviderEntity, error: string | null): Promise<void> {
    await this.repo.setLastError(provider, error?.slice(0, 500) ?? null);
  }

  private async save(provider: McpProviderEntity, tools: McpToolRow[]): Promise<McpProviderEntity> {
    try {
      return await this.repo.saveWithTools(provider, tools);
    } catch (err) {
      // Two creates racing past the name check.
      if (isUniqueViolation(err)) throw this.nameTaken(provider.name);
      throw err;
    }
  }

  private nameTaken(name: string): ValidateError {
    return new ValidateError({ name: [`An MCP tool provider named "${name}" already exists`] });
  }

  private async checkNameAndUrl(
    accountId: string,
    name: string,
    url: string,
    exceptId?: string,
  ): Promise<void> {
    const problem = this.connector.urlProblem(url);
    if (problem) throw new ValidateError({ url: [problem] });
    if (await this.repo.nameTaken(accountId, name, exceptId)) throw this.nameTaken(name);
  }

  private async listOrReject(endpoint: McpEndpoint): Promise<McpListing> {
    try {
      return await this.connector.list(endpoint);
    } catch (err) {
      if (err instanceof McpConnectionError) throw new ValidateError({ url: [err.message] });
      throw err;
    }
  }

  private checkHeaders(headers: Header[]): Header[] {
    const seen = new Set<string>();
    for (const h of headers) {
      const key = h.key.toLowerCase();
      if (RESERVED_HEADERS.has(key))
        throw new ValidateError({ headers: [`Header "${h.key}" is set by the MCP transport`] });
      if (seen.has(key)) throw new ValidateError({ headers: [`Header "${h.key}" is given twice`] });
      seen.add(key);
    }
    return headers.map((h) => ({ key: h.key, value: h.value }));
  }

  /** A value sent back exactly as it was read (masked) keeps the stored secret. */
  private unmask(incoming: McpHeaderDto[], stored: Header[]): Header[] {
    return incoming.map((h) => {
      const old = stored.find((s) => s.key.toLowerCase() === h.key.toLowerCase());
      return old && h.value === maskSecret(old.value) ? { key: h.key, value: old.value } : h;
    });
  }

  /** Every tool usable: a unique name and an object schema the runtime can check arguments with. */
  private checkTools(listed: McpListedTool[]): McpToolRow[] {
    const seen = new Set<string>();
    return listed.map((t) => {
      const field = `tools.${t.name}`;
      if (!t.name || t.name.length > MAX_TOOL_NAME)
        throw new ValidateError({
          tools: [`The server lists a tool whose name is empty or longer than ${MAX_TOOL_NAME}`],
        });
      if (seen.has(t.name))
        throw new ValidateError({ [field]: [`The server lists the tool "${t.name}" twice`] });
      seen.add(t.name);
      const schema = { ...t.inputSchema };
      if (schema.type !== 'object')
        throw new ValidateError({
          [field]: [`The input schema of "${t.name}" is not of type object`],
        });
      schema.properties ??= {};
      const problem =
        JSON.stringify(schema).length > MAX_SCHEMA_CHARS
          ? `is larger than ${MAX_SCHEMA_CHARS} characters`
          : this.runtime.schemaProblem(schema);
      if (problem)
        throw new ValidateError({
          [field]: [`The input schema of "${t.name}" cannot be used: ${problem}`],
        });
      return {
        name: t.name,
        description: t.description.slice(0, MAX_TOOL_DESCRIPTION),
        input_schema: schema,
        inputs: inputsOf(schema),
        annotations: t.annotations,
      };
    });
  }

  private headersOf(provider: McpProviderEntity): Header[] {
    return this.box.openJson<Header[]>(provider.headers);
  }

  private headerRecord(provider: McpProviderEntity): Record<string, string> {
    return toRecord(this.headersOf(provider));
  }

  private maskedHeaders(provider: McpProviderEntity): McpHeaderDto[] {
    return this.headersOf(provider).map((h) => ({ key: h.key, value: maskSecret(h.value) }));
  }

  private toolItem(tool: McpToolEntity): McpToolItemDto {
    return {
      id: tool.id,
      name: tool.name,
      description: tool.description,
      inputs: tool.inputs as McpToolInputDto[],
    };
  }

  private toDto(provider: McpProviderEntity, tools: McpToolEntity[]): McpProviderDto {
    return {
      id: provider.id,
      name: provider.name,
      icon: provider.icon,
      description: provider.description,
      headers: this.maskedHeaders(provider),
      tools: tools.map((t) => this.toolItem(t)),
      url: provider.url,
      transport: provider.transport,
      status: provider.last_error ? 'error' : 'ok',
      last_error: provider.last_error,
      tools_refreshed_at: toUnix(provider.tools_refreshed_at),
      created_at: toUnix(provider.created_at),
    };
  }
}

function toRecord(headers: Header[]): Record<string, string> {
  return Object.fromEntries(headers.map((h) => [h.key, h.value]));
}
