import {
  findOutboundError,
  sanitizeReason,
  type OutboundHttpClient,
  type OutboundRequestOptions,
  type OutboundResponse,
} from '@app/http';
import { ToolCallError } from 'src/modules/tool/runtime/tool.types';

/** A short reason from the usual JSON error shapes (`message`, `error`, `error.message`, ...). */
function structuredReason(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as Record<string, unknown>;
  for (const key of ['message', 'error', 'info', 'detail']) {
    const v = b[key];
    if (typeof v === 'string') return v;
    if (v && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string')
      return (v as { message: string }).message;
  }
  return undefined;
}

/** Removes a secret from text shown to users, should an upstream echo it back. */
export function redact(text: string, secret: string | undefined): string {
  return secret && secret.length >= 4 ? text.split(secret).join('***') : text;
}

/**
 * One external service as a tool sees it: every call through the outbound client (SSRF guard,
 * timeout, size cap), and every failure as a ToolCallError whose message is safe to show:
 * `<Service> answered HTTP <status>: <short sanitized reason>`, never the upstream body.
 */
export class Upstream {
  constructor(
    private readonly http: OutboundHttpClient,
    readonly service: string,
    private readonly signal: AbortSignal,
    private readonly secret?: string,
  ) {}

  async json<T>(url: string | URL, opts: OutboundRequestOptions = {}): Promise<T> {
    const res = await this.send<unknown>(url, { ...opts, responseType: 'json' });
    return res.body as T;
  }

  async text(
    url: string | URL,
    opts: OutboundRequestOptions = {},
  ): Promise<OutboundResponse<string>> {
    return this.send<string>(url, { ...opts, responseType: 'text' });
  }

  /** A failure reported inside a 2xx answer (Gaode's `status: "0"`). */
  fail(reason: string): ToolCallError {
    return new ToolCallError(
      `${this.service} refused the request: ${this.clean(reason) || 'no reason given'}`,
    );
  }

  private async send<T>(
    url: string | URL,
    opts: OutboundRequestOptions,
  ): Promise<OutboundResponse<T>> {
    let res: OutboundResponse<unknown>;
    try {
      res = await this.http.request(url, { ...opts, signal: this.signal });
    } catch (err) {
      const own = findOutboundError(err);
      // Our own errors name origin and path only (never query strings, where keys may be).
      const reason = own ? this.clean(own.message, 300) : 'the request failed';
      throw new ToolCallError(`${this.service} request failed: ${reason}`);
    }
    if (res.status < 200 || res.status >= 300) {
      const reason = this.clean(structuredReason(res.body) ?? '');
      throw new ToolCallError(
        `${this.service} answered HTTP ${res.status}${reason ? `: ${reason}` : ''}`,
      );
    }
    return res as OutboundResponse<T>;
  }

  private clean(text: string, max?: number): string {
    return sanitizeReason(redact(text, this.secret), max);
  }
}

/** `base` + `path`, with exactly one slash between them. */
export function joinUrl(base: string, path: string): URL {
  return new URL(`${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`);
}
