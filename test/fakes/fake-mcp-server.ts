import { Server as LowLevelServer } from '@modelcontextprotocol/sdk/server/index.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { z } from 'zod';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
}

/**
 * A real MCP server on loopback, built from the SDK's own server classes: Streamable HTTP on
 * `/mcp` (stateful sessions) and the older HTTP+SSE transport on `/sse` + `/messages`. Every
 * session gets a fresh McpServer, so tools added with `addTool` show up on the next connection.
 * `close()` drops every connection (a server that goes away); `restart()` listens again on the
 * same port.
 */
export class FakeMcpServer {
  readonly requests: ReceivedRequest[] = [];
  /**
   * Tools served as raw JSON on `/paged` (a low-level SDK Server), `pageSize` per tools/list page
   * with a cursor: for pagination, caps and schemas the McpServer class would never produce.
   */
  pagedTools: Tool[] = [];
  pageSize = 2;
  /** Calls of the `hang` tool received so far. */
  hangs = 0;
  /** Tools added after start (a server that changed: refresh must pick them up). */
  private readonly extra = new Set<string>();
  private readonly streamable = new Map<string, StreamableHTTPServerTransport>();
  private readonly sse = new Map<string, SSEServerTransport>();
  private readonly sockets = new Set<Socket>();
  private server: Server;
  private port = 0;

  static async create(): Promise<FakeMcpServer> {
    const fake = new FakeMcpServer();
    await fake.listen();
    return fake;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Streamable HTTP endpoint. */
  get streamableUrl(): string {
    return `${this.origin}/mcp`;
  }

  /** Streamable HTTP endpoint serving `pagedTools`. */
  get pagedUrl(): string {
    return `${this.origin}/paged`;
  }

  /** Legacy SSE endpoint (a POST there answers 405, as old servers do). */
  get sseUrl(): string {
    return `${this.origin}/sse`;
  }

  addTool(name: string): void {
    this.extra.add(name);
  }

  reset(): void {
    this.requests.length = 0;
    this.extra.clear();
    this.pagedTools = [];
    this.pageSize = 2;
  }

  /** Stops listening and cuts every open connection (streams included). */
  async close(): Promise<void> {
    for (const t of this.streamable.values()) await t.close().catch(() => undefined);
    for (const t of this.sse.values()) await t.close().catch(() => undefined);
    this.streamable.clear();
    this.sse.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Comes back on the same port after `close()`. */
  async restart(): Promise<void> {
    await this.listen(this.port);
  }

  private buildServer(): McpServer {
    const mcp = new McpServer(
      { name: 'fake-mcp', version: '1.0.0' },
      { instructions: 'A fake MCP server for the tests' },
    );
    mcp.registerTool(
      'add',
      {
        description: 'Adds two numbers',
        inputSchema: { a: z.number().describe('First number'), b: z.number() },
        annotations: { readOnlyHint: true },
      },
      ({ a, b }) => ({
        content: [{ type: 'text', text: String(a + b) }],
        structuredContent: { sum: a + b },
      }),
    );
    mcp.registerTool(
      'echo',
      {
        description: 'Repeats a text',
        inputSchema: {
          text: z.string().describe('What to repeat'),
          times: z.number().int().min(1).max(5).optional(),
          loud: z.boolean().optional(),
        },
      },
      ({ text, times, loud }) => {
        const out = Array.from({ length: times ?? 1 }, () => (loud ? text.toUpperCase() : text));
        return {
          content: [
            ...out.map((t) => ({ type: 'text' as const, text: t })),
            {
              type: 'image' as const,
              data: Buffer.from('png').toString('base64'),
              mimeType: 'image/png',
            },
          ],
        };
      },
    );
    mcp.registerTool('fail', { description: 'Always fails', inputSchema: {} }, () => ({
      isError: true,
      content: [{ type: 'text', text: 'the <b>database</b>\u001b[31m is down' }],
    }));
    mcp.registerTool('whoami', { description: 'Which key called' }, (extra) => ({
      content: [
        {
          type: 'text',
          text: String(extra.requestInfo?.headers['x-api-key'] ?? 'anonymous'),
        },
      ],
    }));
    mcp.registerTool(
      'big',
      { description: 'Answers with a lot of text', inputSchema: { kb: z.number().int() } },
      ({ kb }) => ({ content: [{ type: 'text', text: 'x'.repeat(kb * 1024) }] }),
    );
    // Never answers: for a server that drops in the middle of a call.
    mcp.registerTool('hang', { description: 'Never answers' }, (extra) => {
      this.hangs++;
      return new Promise((resolve) =>
        extra.signal.addEventListener('abort', () =>
          resolve({ content: [{ type: 'text', text: 'aborted' }] }),
        ),
      );
    });
    for (const name of this.extra) {
      mcp.registerTool(name, { description: `Added later: ${name}` }, () => ({
        content: [{ type: 'text', text: `${name} ran` }],
      }));
    }
    return mcp;
  }

  private buildPaged(): LowLevelServer {
    const server = new LowLevelServer(
      { name: 'fake-mcp-paged', version: '1.0.0' },
      { capabilities: { tools: {} } },
    );
    server.setRequestHandler(ListToolsRequestSchema, (req) => {
      const start = Number(req.params?.cursor ?? 0);
      const end = start + this.pageSize;
      return {
        tools: this.pagedTools.slice(start, end),
        ...(end < this.pagedTools.length ? { nextCursor: String(end) } : {}),
      };
    });
    server.setRequestHandler(CallToolRequestSchema, (req) => ({
      content: [{ type: 'text', text: `${req.params.name} ran` }],
    }));
    return server;
  }

  private async listen(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    this.requests.push({ method: req.method ?? '', path: url.pathname, headers: req.headers });
    if (url.pathname === '/mcp' || url.pathname === '/paged')
      return this.handleStreamable(req, res, url.pathname === '/paged');
    if (url.pathname === '/sse' && req.method === 'GET') {
      const transport = new SSEServerTransport('/messages', res);
      this.sse.set(transport.sessionId, transport);
      transport.onclose = () => this.sse.delete(transport.sessionId);
      await this.buildServer().connect(transport);
      return;
    }
    if (url.pathname === '/messages' && req.method === 'POST') {
      const transport = this.sse.get(url.searchParams.get('sessionId') ?? '');
      if (!transport) return void res.writeHead(404).end('unknown session');
      return transport.handlePostMessage(req, res);
    }
    res.writeHead(url.pathname === '/sse' ? 405 : 404).end();
  }

  private async handleStreamable(
    req: IncomingMessage,
    res: ServerResponse,
    paged: boolean,
  ): Promise<void> {
    const sid = req.headers['mcp-session-id'];
    if (typeof sid === 'string') {
      const transport = this.streamable.get(sid);
      if (!transport) return void res.writeHead(404).end('unknown session');
      return transport.handleRequest(req, res);
    }
    if (req.method !== 'POST') return void res.writeHead(400).end('no session');
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void this.streamable.set(id, transport),
    });
    transport.onclose = () => {
      if (transport.sessionId) this.streamable.delete(transport.sessionId);
    };
    await (paged ? this.buildPaged() : this.buildServer()).connect(transport);
    await transport.handleRequest(req, res);
  }
}
