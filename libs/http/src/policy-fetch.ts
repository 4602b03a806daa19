import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, type Dispatcher, fetch as undiciFetch } from 'undici';
import { credentialHeaderNames } from './credential-headers';
import { sanitizeErrorBody } from './error-reason';
import { createGuardedLookup, HostResolver, SsrfPolicy, systemResolver } from './ssrf-guard';
import {
  BODY_HEADERS,
  describeUrl,
  REDIRECT_STATUSES,
  redirectBecomesGet,
  redirectTarget,
} from './redirects';
import { OutboundRequestError } from './outbound-request-error';

export interface PolicyFetchOptions {
  /**
   * For user-supplied base URLs: the SSRF policy (checks IP-literal hosts of every hop) and a
   * dispatcher from `createGuardedAgent` (checks every resolved address at connect time).
   */
  guard?: { policy: SsrfPolicy; dispatcher: Dispatcher };
  /** Retries on 429 and 5xx (not 501), honouring Retry-After / retry-after-ms. */
  maxRetries: number;
  /** Limit of one whole call (headers and body), combined with the caller's signal. */
  timeoutMs: number;
  baseDelayMs?: number;
  /** A Retry-After longer than this is not waited for: the 429 is returned as is. */
  maxRetryDelayMs?: number;
  /** Redirects followed (each hop checked by the guard) before `too_many_redirects`. Default 5. */
  maxRedirects?: number;
  /** Configured auth header names dropped, with the usual credential headers, across origins. */
  authHeaders?: readonly string[];
  /**
   * Bytes a successful answer's body may have (streams included); past it the body fails with
   * `too_large`. Default: no limit (callers that cap bodies themselves, e.g. MCP's capBody).
   */
  maxBodyBytes?: number;
}

type FetchInput = Parameters<typeof fetch>[0];
type FetchInit = Parameters<typeof fetch>[1];

/** Retry-After (seconds or HTTP date) or OpenAI's retry-after-ms, in ms; undefined when absent. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms));
  const value = headers.get('retry-after');
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * Hands back the response with `release` called once its body has arrived in full, so a
 * finished call drops its deadline timer (and the signals it keeps alive) instead of holding them
 * until MODEL_TIMEOUT_MS. A body that is cancelled or fails leaves the timer to fire harmlessly.
 * A body longer than `maxBytes` fails with `too_large` and the connection is dropped.
 */
function releaseWhenRead(
  res: Response,
  release: () => void,
  maxBytes = Number.POSITIVE_INFINITY,
): Response {
  if (!res.body || NULL_BODY_STATUSES.has(res.status)) {
    release();
    return res;
  }
  const declared = Number(res.headers.get('content-length'));
  if (declared > maxBytes) {
    void res.body.cancel().catch(() => undefined);
    throw tooLarge(res, maxBytes);
  }
  return limitBody(res, { maxBytes, tooLarge: () => tooLarge(res, maxBytes), onDone: release });
}

/**
 * The same response with a body that calls `onDone` once it has arrived in full and, once more
 * than `maxBytes` have arrived, cancels the source and errors with `tooLarge()`. Also the MCP
 * connector's size cap.
 */
export function limitBody(
  res: Response,
  opts: { maxBytes: number; tooLarge: () => Error; onDone?: () => void },
): Response {
  if (!res.body) return res;
  // A pull-through stream, not pipeThrough(TransformStream): the pipe machinery cost about twice
  // as much CPU per chunk, paid on every chunk of every model stream.
  const reader = res.body.getReader();
  let received = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        opts.onDone?.();
        controller.close();
        return;
      }
      received += value.byteLength;
      if (received > opts.maxBytes) {
        await reader.cancel().catch(() => undefined);
        controller.error(opts.tooLarge());
        return;
      }
      controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  const wrapped = new Response(body, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
  Object.defineProperty(wrapped, 'url', { value: res.url });
  return wrapped;
}

function tooLarge(res: Response, maxBytes: number): OutboundRequestError {
  const url = URL.canParse(res.url) ? new URL(res.url) : undefined;
  return new OutboundRequestError(
    'too_large',
    `The answer of ${url ? describeUrl(url) : 'the server'} is larger than ${maxBytes} bytes`,
    { status: res.status, ...(url ? { url: describeUrl(url) } : {}) },
  );
}

/** The body as text when it has at most `max` bytes, else '' (it is read no further than that). */
async function readUpTo(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        await reader.cancel().catch(() => undefined);
        return '';
      }
      chunks.push(value);
    }
  } catch {
    return '';
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

function isRetryable(status: number): boolean {
  return status === 429 || (status >= 500 && status !== 501);
}

/** An undici Agent whose connections go only to addresses the policy allows. Share one per policy. */
export function createGuardedAgent(
  policy: SsrfPolicy,
  resolver: HostResolver = systemResolver,
): Agent {
  return new Agent({ connect: { lookup: createGuardedLookup(policy, resolver) } });
}

// Error bodies longer than this are not worth parsing for a reason: they are dropped.
const MAX_ERROR_BODY = 64 * 1024;

/** Bodies fetch can send again on a retry or a 307/308 hop; streams cannot. */
function isReplayable(body: unknown): boolean {
  return (
    body == null ||
    typeof body === 'string' ||
    body instanceof Uint8Array ||
    body instanceof ArrayBuffer ||
    body instanceof URLSearchParams ||
    body instanceof Blob
  );
}

/**
 * Upstream error bodies (HTML pages, stack traces, whatever an internal service says) must not
 * travel into SDK error messages and from there to users: keep only a sanitized structured reason.
 */
async function sanitizeError(res: Response): Promise<Response> {
  const declared = Number(res.headers.get('content-length'));
  let raw = '';
  // Read no further than the limit: a chunked error body may be endless.
  if (!(declared > MAX_ERROR_BODY)) raw = await readUpTo(res, MAX_ERROR_BODY);
  else await res.body?.cancel().catch(() => undefined);
  const body = sanitizeErrorBody(raw, res.headers.get('content-type'));
  const headers = new Headers(res.headers);
  for (const h of ['content-length', 'content-encoding', 'transfer-encoding']) headers.delete(h);
  headers.set('content-type', body ? 'application/json' : 'text/plain');
  const clean = new Response(body, { status: res.status, statusText: res.statusText, headers });
  Object.defineProperty(clean, 'url', { value: res.url });
  return clean;
}

interface HopRequest {
  url: URL;
  method: string;
  headers: Headers;
  body: unknown;
}

/** The request of the next hop, rewritten as fetch does; throws when it cannot be followed. */
function nextHop(
  hop: HopRequest,
  status: number,
  location: string,
  credentials: Set<string>,
): HopRequest {
  const url = redirectTarget(hop.url, status, location);
  const headers = new Headers(hop.headers);
  let { method, body } = hop;
  if (redirectBecomesGet(status, method)) {
    method = 'GET';
    body = undefined;
    for (const h of BODY_HEADERS) headers.delete(h);
  } else if (!isReplayable(body)) {
    throw new OutboundRequestError(
      'invalid_request',
      `Cannot follow the ${status} redirect from ${describeUrl(hop.url)}: the request body cannot be sent again`,
      { status, url: describeUrl(hop.url) },
    );
  }
  // Credentials were meant for the original origin only.
  if (url.origin !== hop.url.origin) for (const h of credentials) headers.delete(h);
  return { url, method, headers, body };
}

/**
 * A WHATWG `fetch` for SDK clients (openai, Anthropic, Ollama): one call timeout, retries with
 * exponential backoff that honour Retry-After, redirects followed hop by hop (each checked by the
 * SSRF guard when there is one, credentials dropped across origins), and error bodies reduced to
 * a sanitized reason. SDK retries are turned off where this is used, so there is one retry policy.
 */
export function createPolicyFetch(options: PolicyFetchOptions): typeof fetch {
  const base = options.baseDelayMs ?? 500;
  const maxDelay = options.maxRetryDelayMs ?? 30_000;
  const maxRedirects = options.maxRedirects ?? 5;
  const credentials = credentialHeaderNames(options.authHeaders);
  const policy = options.guard?.policy;
  const dispatcher = options.guard?.dispatcher;

  const policyFetch = async (input: FetchInput, init?: FetchInit): Promise<Response> => {
    const request = input instanceof Request ? input : undefined;
    const first: HopRequest = {
      url: new URL(request ? request.url : input instanceof URL ? input.href : (input as string)),
      method: (init?.method ?? request?.method ?? 'GET').toUpperCase(),
      headers: new Headers(init?.headers ?? request?.headers),
      body: init?.body !== undefined ? init.body : (request?.body ?? undefined),
    };
    const timedOut = () =>
      new OutboundRequestError(
        'timeout',
        `Request to ${first.url.host} timed out after ${options.timeoutMs} ms`,
        { url: first.url.toString() },
      );
    // Aborting with our own reason: a body (stream) cut by the deadline then fails with a clear
    // "timed out" error, not a DOMException saying "aborted" (which reads as a caller's abort).
    const deadlineController = new AbortController();
    const timer = setTimeout(() => deadlineController.abort(timedOut()), options.timeoutMs).unref();
    const deadline = deadlineController.signal;
    const callerSignal = init?.signal ?? request?.signal;
    const signal = callerSignal ? AbortSignal.any([callerSignal, deadline]) : deadline;
    const fail = (err: unknown): never => {
      clearTimeout(timer);
      if (deadline.aborted && !callerSignal?.aborted) throw timedOut();
      throw err;
    };

    /** One hop with its retries; the answer's body is unread. */
    const send = async (hop: HopRequest): Promise<Response> => {
      // Every hop: IP-literal hosts (every notation; URL normalizes them) skip the DNS lookup.
      if (policy) policy.assertHostAllowed(hop.url.hostname);
      const replayable = isReplayable(hop.body);
      for (let attempt = 0; ; attempt++) {
        const res = (await undiciFetch(hop.url.href, {
          ...(init as object),
          method: hop.method,
          headers: Object.fromEntries(hop.headers.entries()),
          body: hop.body as string | undefined,
          redirect: 'manual',
          signal,
          ...(dispatcher ? { dispatcher } : {}),
        })) as unknown as Response;
        if (!isRetryable(res.status) || attempt >= options.maxRetries || !replayable) return res;
        const asked = retryAfterMs(res.headers);
        const backoff = Math.min(
          maxDelay,
          base * 2 ** attempt + Math.floor(Math.random() * base * 0.2),
        );
        const wait = asked ?? backoff;
        if (wait > maxDelay) return res;
        await res.body?.cancel().catch(() => undefined);
        await sleep(wait, undefined, { signal }).catch(() => {
          throw deadline.aborted ? timedOut() : (signal.reason as Error);
        });
      }
    };

    try {
      let hop = first;
      for (let redirects = 0; ; redirects++) {
        const res = await send(hop);
        const location = res.headers.get('location');
        if (REDIRECT_STATUSES.has(res.status) && location && init?.redirect !== 'manual') {
          await res.body?.cancel().catch(() => undefined);
          if (init?.redirect === 'error' || redirects >= maxRedirects) {
            throw new OutboundRequestError(
              'too_many_redirects',
              `Request to ${describeUrl(first.url)} redirected more than ${init?.redirect === 'error' ? 0 : maxRedirects} times`,
              { status: res.status, url: describeUrl(hop.url) },
            );
          }
          hop = nextHop(hop, res.status, location, credentials);
          continue;
        }
        const final = res.status >= 400 ? await sanitizeError(res) : res;
        return releaseWhenRead(final, () => clearTimeout(timer), options.maxBodyBytes);
      }
    } catch (err) {
      return fail(err);
    }
  };
  return policyFetch;
}
