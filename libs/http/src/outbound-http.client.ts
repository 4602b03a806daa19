import type { AppConfig } from '@app/config';
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, type Dispatcher } from 'undici';
import { credentialHeaderNames } from './credential-headers';
import {
  BODY_HEADERS,
  describeUrl,
  REDIRECT_STATUSES,
  redirectBecomesGet,
  redirectTarget,
} from './redirects';
import { findOutboundError, OutboundRequestError } from './outbound-request-error';
import { createGuardedLookup, SsrfPolicy, systemResolver, type HostResolver } from './ssrf-guard';

export interface OutboundHttpClientOptions {
  /** OUTBOUND_ALLOW_HOSTS entries: host names, `*.domain`, IPs or CIDRs that may be private. */
  allowHosts?: readonly string[];
  /** Overall deadline of `request()` (retries and redirects included); headers deadline of `stream()`. */
  timeoutMs: number;
  /** Default body limit of `request()`; `stream()` has none unless one is passed. */
  maxResponseBytes: number;
  /** Default number of retries after the first attempt. */
  maxRetries: number;
  userAgent?: string;
  /** DNS resolver; tests inject a fixed one. Defaults to dns.promises.lookup (all addresses). */
  resolver?: HostResolver;
  /** First backoff step (doubled each retry, with jitter). Default 500 ms. */
  retryBaseDelayMs?: number;
  /** Longest single wait between retries; a longer Retry-After ends the retries. Default 30 s. */
  maxRetryDelayMs?: number;
}

export type OutboundHeaders = Record<string, string | string[] | number | undefined>;
export type OutboundRequestBody = string | Uint8Array | Readable;
export type OutboundResponseType = 'json' | 'text' | 'buffer';

export interface OutboundBaseOptions {
  /** Default GET. */
  method?: string;
  headers?: OutboundHeaders;
  /** Raw body. A Readable cannot be replayed, so it disables retries and 307/308 redirects. */
  body?: OutboundRequestBody | null;
  /** Serialised as JSON (content-type defaults to application/json); exclusive with `body`. */
  json?: unknown;
  timeoutMs?: number;
  maxResponseBytes?: number;
  /** Retries after the first attempt; defaults to the client's maxRetries. */
  retries?: number;
  signal?: AbortSignal;
  /** Default true; every hop is checked against the SSRF policy again. */
  followRedirects?: boolean;
  /** Default 5. */
  maxRedirects?: number;
  /** Throw `http_error` (with `status`) for a final non-2xx answer instead of returning it. */
  throwOnError?: boolean;
  /** Configured auth header names dropped, with the usual credential headers, across origins. */
  authHeaders?: readonly string[];
}

export interface OutboundRequestOptions extends OutboundBaseOptions {
  /** Default 'text'. 'json' gives null for an empty body. */
  responseType?: OutboundResponseType;
}

export type OutboundStreamOptions = OutboundBaseOptions;

export type OutboundResponseHeaders = Record<string, string | string[]>;

export interface OutboundResponse<B> {
  status: number;
  headers: OutboundResponseHeaders;
  body: B;
  /** Final URL after redirects. */
  url: string;
}

export interface OutboundStreamResponse {
  status: number;
  headers: OutboundResponseHeaders;
  /** The body; errors are OutboundRequestError ('too_large', 'timeout', 'network', 'aborted'). */
  body: Readable;
  url: string;
  /**
   * Reads the body without the stream wrapper, for bulk downloads: `onChunk` gets each chunk as
   * the socket delivers it; a returned promise holds the next chunk back until it settles, and
   * `false` (or a promise of it) stops reading. Resolves at the end of the body or once told to
   * stop; rejects like `body` does (OutboundRequestError), or with what `onChunk` threw. Read a
   * response either this way or through `body`, not both.
   */
  readChunks(onChunk: (chunk: Buffer) => ChunkVerdict | Promise<ChunkVerdict>): Promise<void>;
  /** Stops the download and frees the connection. */
  abort(): void;
}

/** What `readChunks`' callback answers: `false` stops reading, anything else asks for more. */
export type ChunkVerdict = boolean | void;

const SCHEMES = new Set(['http:', 'https:']);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
// Set by the transport, or meaningless to forward; `accept-encoding` is dropped because we do not
// decode bodies (and a compressed body would slip past the size limit's intent).
const DROPPED_HEADERS = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'accept-encoding',
]);

interface Hop {
  url: URL;
  method: string;
  headers: Record<string, string | string[]>;
  body: OutboundRequestBody | undefined;
}

/** Per-call state shared by every hop and retry. */
interface CallContext {
  signal: AbortSignal;
  deadlineAt: number;
  timeoutMs: number;
  timeoutSignal: AbortSignal;
  callerSignal?: AbortSignal;
  bodyTimeoutMs: number;
  userAbort?: AbortSignal;
}

interface ResolvedOptions {
  retries: number;
  followRedirects: boolean;
  maxRedirects: number;
  /** Dropped on a hop to another origin. */
  credentials: Set<string>;
}

/** Seconds or an HTTP date, as milliseconds from now; undefined when unparseable. */
export function parseRetryAfter(value: string, now = Date.now()): number | undefined {
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function isReplayable(body: OutboundRequestBody | undefined): boolean {
  return !(body instanceof Readable);
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function normalizeResponseHeaders(
  headers: Record<string, string | string[] | undefined>,
): OutboundResponseHeaders {
  const out: OutboundResponseHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = v;
  return out;
}

/** Destroying an unread undici body emits an 'error'; nobody else listens, so swallow it here. */
function dropBody(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

function decodeText(buf: Buffer, contentType: string | undefined): string {
  const charset = /charset\s*=\s*"?([\w.:-]+)/i.exec(contentType ?? '')?.[1];
  if (charset) {
    try {
      return new TextDecoder(charset).decode(buf);
    } catch {
      // Unknown charset label: fall back to UTF-8 rather than fail the request.
    }
  }
  return buf.toString('utf8');
}

/**
 * The one way to call user-supplied URLs. Every connection goes through an undici Agent whose
 * DNS lookup is guarded by the SSRF policy, so the address that was checked is the address used.
 */
@Injectable()
export class OutboundHttpClient implements OnApplicationShutdown {
  readonly policy: SsrfPolicy;
  private readonly agent: Agent;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly maxRetries: number;
  private readonly userAgent: string;
  private readonly retryBaseDelayMs: number;
  private readonly maxRetryDelayMs: number;

  constructor(options: OutboundHttpClientOptions) {
    this.policy = new SsrfPolicy(options.allowHosts ?? []);
    this.timeoutMs = options.timeoutMs;
    this.maxResponseBytes = options.maxResponseBytes;
    this.maxRetries = options.maxRetries;
    this.userAgent = options.userAgent ?? 'LLMOps-outbound/1.0';
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 500;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
    this.agent = new Agent({
      connect: {
        timeout: options.timeoutMs,
        lookup: createGuardedLookup(this.policy, options.resolver ?? systemResolver),
      },
    });
  }

  static fromConfig(
    config: AppConfig,
    overrides: Partial<OutboundHttpClientOptions> = {},
  ): OutboundHttpClient {
    return new OutboundHttpClient({
      allowHosts: config.env.OUTBOUND_ALLOW_HOSTS,
      timeoutMs: config.env.OUTBOUND_TIMEOUT_MS,
      maxResponseBytes: config.env.OUTBOUND_MAX_RESPONSE_BYTES,
      maxRetries: config.env.OUTBOUND_MAX_RETRIES,
      ...overrides,
    });
  }

  request<T = unknown>(
    url: string | URL,
    options: OutboundRequestOptions & { responseType: 'json' },
  ): Promise<OutboundResponse<T>>;
  request(
    url: string | URL,
    options: OutboundRequestOptions & { responseType: 'buffer' },
  ): Promise<OutboundResponse<Buffer>>;
  request(
    url: string | URL,
    options?: OutboundRequestOptions & { responseType?: 'text' },
  ): Promise<OutboundResponse<string>>;
  request(url: string | URL, options?: OutboundRequestOptions): Promise<OutboundResponse<unknown>>;
  async request(
    url: string | URL,
    options: OutboundRequestOptions = {},
  ): Promise<OutboundResponse<unknown>> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const limit = options.maxResponseBytes ?? this.maxResponseBytes;
    const timeoutSignal = AbortSignal.timeout(timeoutMs);
    const ctx: CallContext = {
      signal: options.signal ? AbortSignal.any([timeoutSignal, options.signal]) : timeoutSignal,
      deadlineAt: Date.now() + timeoutMs,
      timeoutMs,
      timeoutSignal,
      callerSignal: options.signal,
      bodyTimeoutMs: timeoutMs,
    };
    const responseType = options.responseType ?? 'text';
    const first = this.firstHop(url, options, responseType === 'json');
    const { res, url: finalUrl } = await this.exchange(first, this.resolveOptions(options), ctx);
    const headers = normalizeResponseHeaders(res.headers);
    await this.rejectUnwanted(res, finalUrl, first.method, options, limit);

    let raw: Buffer;
    try {
      raw = await this.readLimited(res.body, limit, finalUrl, res.statusCode);
    } catch (e) {
      throw this.toError(e, finalUrl, ctx);
    }
    const contentType = firstHeader(headers['content-type']);
    let body: unknown;
    if (responseType === 'buffer') body = raw;
    else if (responseType === 'text') body = decodeText(raw, contentType);
    else {
      const text = decodeText(raw, contentType);
      try {
        body = text.trim() === '' ? null : JSON.parse(text);
      } catch (e) {
        // An error page is usually HTML: hand non-2xx text back for the caller to show.
        if (!isSuccess(res.statusCode)) body = text;
        else
          throw new OutboundRequestError(
            'invalid_response',
            `Response from ${describeUrl(finalUrl)} is not valid JSON`,
            { status: res.statusCode, url: describeUrl(finalUrl), cause: e },
          );
      }
    }
    return { status: res.statusCode, headers, body, url: finalUrl.href };
  }

  /**
   * For large downloads: resolves once headers arrive and hands back the body as a stream.
   * `timeoutMs` bounds the wait for headers and each idle gap in the body, not the whole download.
   */
  async stream(
    url: string | URL,
    options: OutboundStreamOptions = {},
  ): Promise<OutboundStreamResponse> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const deadline = new AbortController();
    const user = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new DOMException('The operation timed out.', 'TimeoutError')),
      timeoutMs,
    );
    const signals = [deadline.signal, user.signal];
    if (options.signal) signals.push(options.signal);
    const ctx: CallContext = {
      signal: AbortSignal.any(signals),
      deadlineAt: Date.now() + timeoutMs,
      timeoutMs,
      timeoutSignal: deadline.signal,
      callerSignal: options.signal,
      bodyTimeoutMs: timeoutMs,
      userAbort: user.signal,
    };
    let res: Dispatcher.ResponseData;
    let finalUrl: URL;
    try {
      const first = this.firstHop(url, options, false);
      ({ res, url: finalUrl } = await this.exchange(first, this.resolveOptions(options), ctx));
      await this.rejectUnwanted(res, finalUrl, first.method, options, options.maxResponseBytes);
    } finally {
      // From here on only the idle body timeout applies: a download may take hours.
      clearTimeout(timer);
    }
    const source = res.body;
    const body = Readable.from(
      this.guardBody(source, options.maxResponseBytes, finalUrl, res.statusCode, ctx),
      { objectMode: false }, // a byte stream, like any other body (pipe() to files, setEncoding())
    );
    return {
      status: res.statusCode,
      headers: normalizeResponseHeaders(res.headers),
      body,
      url: finalUrl.href,
      readChunks: (onChunk) =>
        this.readChunks(source, onChunk, options.maxResponseBytes, finalUrl, res.statusCode, ctx),
      abort: () => {
        user.abort();
        dropBody(source);
        body.destroy();
      },
    };
  }

  /** Waits for in-flight requests, then frees sockets; gives up waiting after 5 s. */
  async close(): Promise<void> {
    const timer = setTimeout(() => void this.agent.destroy().catch(() => undefined), 5000);
    timer.unref();
    try {
      await this.agent.close();
    } finally {
      clearTimeout(timer);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  private resolveOptions(options: OutboundBaseOptions): ResolvedOptions {
    return {
      retries: Math.max(0, options.retries ?? this.maxRetries),
      followRedirects: options.followRedirects ?? true,
      maxRedirects: options.maxRedirects ?? 5,
      credentials: credentialHeaderNames(options.authHeaders),
    };
  }

  private firstHop(input: string | URL, options: OutboundBaseOptions, wantsJson: boolean): Hop {
    let url: URL;
    try {
      url = new URL(input);
    } catch (e) {
      throw new OutboundRequestError('invalid_url', `Invalid URL: ${String(input)}`, { cause: e });
    }
    if (!SCHEMES.has(url.protocol)) {
      throw new OutboundRequestError(
        'invalid_url',
        `Unsupported URL scheme ${url.protocol} (only http and https are allowed)`,
        { url: describeUrl(url) },
      );
    }
    if (options.body != null && options.json !== undefined) {
      throw new OutboundRequestError('invalid_request', 'Pass either body or json, not both');
    }
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(options.headers ?? {})) {
      const name = k.toLowerCase();
      if (v === undefined || DROPPED_HEADERS.has(name)) continue;
      headers[name] = Array.isArray(v) ? v : String(v);
    }
    let body: OutboundRequestBody | undefined = options.body ?? undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] ??= 'application/json';
    }
    // Known bodies get their length from undici; a stale caller value would only cause errors.
    if (isReplayable(body)) delete headers['content-length'];
    headers['user-agent'] ??= this.userAgent;
    if (wantsJson) headers.accept ??= 'application/json';
    const hop: Hop = { url, method: (options.method ?? 'GET').toUpperCase(), headers, body };
    this.moveCredentials(hop);
    return hop;
  }

  /** user:pass@ in a URL becomes Basic auth (undici would ignore it), never part of messages. */
  private moveCredentials(hop: Hop): void {
    const { url } = hop;
    if (url.username || url.password) {
      const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
      hop.headers.authorization ??= `Basic ${Buffer.from(pair).toString('base64')}`;
      url.username = '';
      url.password = '';
    }
    url.hash = '';
  }

  /** Follows redirects (each hop re-validated), with retries per hop. Body of the result unread. */
  private async exchange(
    first: Hop,
    o: ResolvedOptions,
    ctx: CallContext,
  ): Promise<{ res: Dispatcher.ResponseData; url: URL }> {
    let hop = first;
    for (let redirects = 0; ; redirects++) {
      const res = await this.withRetries(hop, o, ctx);
      const location = firstHeader(res.headers.location);
      if (!o.followRedirects || !REDIRECT_STATUSES.has(res.statusCode) || !location) {
        return { res, url: hop.url };
      }
      const next = this.redirectHop(hop, res.statusCode, location, o.credentials);
      if (!next) return { res, url: hop.url };
      await this.discard(res);
      if (redirects >= o.maxRedirects) {
        throw new OutboundRequestError(
          'too_many_redirects',
          `Request to ${describeUrl(first.url)} redirected more than ${o.maxRedirects} times`,
          { status: res.statusCode, url: describeUrl(hop.url) },
        );
      }
      hop = next;
    }
  }

  private redirectHop(
    hop: Hop,
    status: number,
    location: string,
    credentials: Set<string>,
  ): Hop | undefined {
    const url = redirectTarget(hop.url, status, location);
    const headers = { ...hop.headers };
    let { method, body } = hop;
    if (redirectBecomesGet(status, method)) {
      method = 'GET';
      body = undefined;
      for (const h of BODY_HEADERS) delete headers[h];
    } else if (!isReplayable(body)) {
      return undefined;
    }
    // Credentials were meant for the original origin only.
    if (url.origin !== hop.url.origin) for (const h of credentials) delete headers[h];
    const next: Hop = { url, method, headers, body };
    this.moveCredentials(next);
    return next;
  }

  private async withRetries(
    hop: Hop,
    o: ResolvedOptions,
    ctx: CallContext,
  ): Promise<Dispatcher.ResponseData> {
    for (let attempt = 0; ; attempt++) {
      const canRetry = attempt < o.retries && isReplayable(hop.body);
      let res: Dispatcher.ResponseData;
      try {
        res = await this.dispatchOnce(hop, ctx);
      } catch (e) {
        const err = this.toError(e, hop.url, ctx);
        // Network failures are only retried when repeating the request is harmless.
        const delay = this.backoff(attempt);
        if (
          err.code === 'network' &&
          canRetry &&
          IDEMPOTENT.has(hop.method) &&
          this.fits(delay, ctx)
        ) {
          await this.waitBeforeRetry(delay, hop.url, ctx);
          continue;
        }
        throw err;
      }
      const status = res.statusCode;
      if (canRetry && (status === 429 || (status >= 500 && status !== 501))) {
        const delay = this.retryDelay(attempt, firstHeader(res.headers['retry-after']));
        if (delay !== undefined && this.fits(delay, ctx)) {
          await this.discard(res);
          await this.waitBeforeRetry(delay, hop.url, ctx);
          continue;
        }
      }
      return res;
    }
  }

  private async dispatchOnce(hop: Hop, ctx: CallContext): Promise<Dispatcher.ResponseData> {
    // IP-literal hosts never reach the guarded lookup, so they are checked here.
    this.policy.assertHostAllowed(hop.url.hostname);
    const remaining = Math.max(1, ctx.deadlineAt - Date.now());
    return this.agent.request({
      origin: hop.url.origin,
      path: `${hop.url.pathname}${hop.url.search}`,
      method: hop.method,
      headers: hop.headers,
      body: hop.body,
      signal: ctx.signal,
      headersTimeout: remaining,
      bodyTimeout: ctx.bodyTimeoutMs,
    });
  }

  /** Exponential backoff with jitter (half fixed, half random), capped. */
  private backoff(attempt: number): number {
    const exp = Math.min(this.maxRetryDelayMs, this.retryBaseDelayMs * 2 ** attempt);
    return Math.round(exp / 2 + (Math.random() * exp) / 2);
  }

  /** Retry-After wins when present; one longer than the cap means "not soon": stop retrying. */
  private retryDelay(attempt: number, retryAfter: string | undefined): number | undefined {
    const asked = retryAfter === undefined ? undefined : parseRetryAfter(retryAfter);
    if (asked === undefined) return this.backoff(attempt);
    return asked > this.maxRetryDelayMs ? undefined : asked;
  }

  /** A retry is only worth it if its wait ends before the overall deadline. */
  private fits(delay: number, ctx: CallContext): boolean {
    return Date.now() + delay < ctx.deadlineAt;
  }

  /** Sleeps between attempts; an abort or timeout meanwhile ends the call. */
  private async waitBeforeRetry(delay: number, url: URL, ctx: CallContext): Promise<void> {
    try {
      await sleep(delay, undefined, { signal: ctx.signal });
    } catch (e) {
      throw this.toError(e, url, ctx);
    }
  }

  private async discard(res: Dispatcher.ResponseData): Promise<void> {
    try {
      await res.body.dump({ limit: 64 * 1024 });
    } catch {
      // Nothing to recover: the socket is simply not reused.
    }
  }

  /** Size limit from Content-Length, and `throwOnError`. */
  private async rejectUnwanted(
    res: Dispatcher.ResponseData,
    url: URL,
    method: string,
    options: OutboundBaseOptions,
    limit: number | undefined,
  ): Promise<void> {
    const status = res.statusCode;
    const ownRedirect = options.followRedirects === false && REDIRECT_STATUSES.has(status);
    if (options.throwOnError && !isSuccess(status) && !ownRedirect) {
      await this.discard(res);
      throw new OutboundRequestError(
        'http_error',
        `Request to ${describeUrl(url)} failed with HTTP ${status} ${STATUS_CODES[status] ?? ''}`.trim(),
        { status, url: describeUrl(url) },
      );
    }
    // HEAD, 204 and 304 announce a length without sending a body.
    const hasBody = method !== 'HEAD' && status !== 204 && status !== 304;
    const declared = Number(firstHeader(res.headers['content-length']));
    if (limit !== undefined && hasBody && Number.isFinite(declared) && declared > limit) {
      dropBody(res.body);
      throw this.tooLarge(url, limit, status);
    }
  }

  private tooLarge(url: URL, limit: number, status: number): OutboundRequestError {
    return new OutboundRequestError(
      'too_large',
      `Response from ${describeUrl(url)} is larger than the ${limit}-byte limit`,
      { status, url: describeUrl(url) },
    );
  }

  /** Reads the whole body, aborting as soon as it crosses the limit. */
  private async readLimited(
    body: Readable,
    limit: number,
    url: URL,
    status: number,
  ): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        dropBody(body);
        throw this.tooLarge(url, limit, status);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, size);
  }

  /** The stream() body: counts bytes against the optional limit and maps errors to ours. */
  private async *guardBody(
    source: Readable,
    limit: number | undefined,
    url: URL,
    status: number,
    ctx: CallContext,
  ): AsyncGenerator<Buffer> {
    let size = 0;
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (limit !== undefined && size > limit) throw this.tooLarge(url, limit, status);
        yield chunk;
      }
    } catch (e) {
      throw this.toError(e, url, ctx);
    } finally {
      dropBody(source);
    }
  }

  /**
   * The `readChunks()` of a stream() answer: 'data' events straight from undici's body (paused
   * while the callback's promise runs), with the size limit and error mapping of `guardBody`.
   */
  private readChunks(
    source: Readable,
    onChunk: (chunk: Buffer) => ChunkVerdict | Promise<ChunkVerdict>,
    limit: number | undefined,
    url: URL,
    status: number,
    ctx: CallContext,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let size = 0;
      let settled = false;
      const finish = (err?: unknown, own = false) => {
        if (settled) return;
        settled = true;
        source.off('data', onData);
        source.off('end', onEnd);
        source.off('error', onError);
        source.off('close', onClose);
        if (err === undefined) resolve();
        else reject(own ? (err as Error) : this.toError(err, url, ctx));
      };
      // Ends the read early: the rest of the body is not wanted.
      const stop = (err?: unknown) => {
        finish(err, true);
        dropBody(source);
      };
      const verdict = (v: ChunkVerdict) => {
        if (v === false) stop();
        else if (!settled && source.isPaused()) source.resume();
      };
      function onData(chunk: Buffer) {
        size += chunk.length;
        if (limit !== undefined && size > limit) return stop(tooLarge());
        let v: ChunkVerdict | Promise<ChunkVerdict>;
        try {
          v = onChunk(chunk);
        } catch (e) {
          return stop(e);
        }
        // A thenable test, not instanceof: the promise may come from another realm (vm, jest).
        if (typeof (v as Promise<ChunkVerdict> | undefined)?.then === 'function') {
          source.pause();
          (v as Promise<ChunkVerdict>).then(verdict, stop);
        } else if (v === false) stop();
      }
      const tooLarge = () => this.tooLarge(url, limit!, status);
      const onEnd = () => finish();
      const onError = (e: unknown) => finish(e);
      // Destroyed without an error (an abort): the body ended before its end.
      const onClose = () =>
        finish(
          Object.assign(new Error('Response body closed before its end'), {
            code: 'ERR_STREAM_PREMATURE_CLOSE',
          }),
        );
      if (source.errored) return onError(source.errored);
      if (source.readableEnded) return onEnd();
      if (source.destroyed) return onClose();
      source.on('data', onData);
      source.on('end', onEnd);
      source.on('error', onError);
      source.on('close', onClose);
    });
  }

  /** Maps anything undici, node:net or a signal throws to an OutboundRequestError. */
  private toError(e: unknown, url: URL, ctx: CallContext): OutboundRequestError {
    const own = findOutboundError(e);
    if (own) return own;
    const where = describeUrl(url);
    const err = e as { code?: string; name?: string; message?: string } | undefined;
    if (ctx.callerSignal?.aborted || ctx.userAbort?.aborted) {
      return new OutboundRequestError('aborted', `Request to ${where} was aborted`, {
        url: where,
        cause: e,
      });
    }
    if (ctx.timeoutSignal.aborted || TIMEOUT_CODES.has(err?.code ?? '')) {
      return new OutboundRequestError(
        'timeout',
        `Request to ${where} timed out after ${ctx.timeoutMs} ms`,
        { url: where, cause: e },
      );
    }
    if (err?.name === 'AbortError' || err?.code === 'UND_ERR_ABORTED') {
      return new OutboundRequestError('aborted', `Request to ${where} was aborted`, {
        url: where,
        cause: e,
      });
    }
    if (err?.code === 'UND_ERR_INVALID_ARG' || err?.code === 'ERR_INVALID_ARG_TYPE') {
      return new OutboundRequestError(
        'invalid_request',
        `Request to ${where} is invalid: ${err.message}`,
        { url: where, cause: e },
      );
    }
    const code = err?.code ? ` (${err.code})` : '';
    return new OutboundRequestError(
      'network',
      `Request to ${where} failed: ${err?.message ?? String(e)}${code}`,
      { url: where, cause: e },
    );
  }
}
