import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, type Dispatcher, fetch as undiciFetch } from 'undici';
import { createGuardedLookup, HostResolver, SsrfPolicy, systemResolver } from './ssrf-guard';
import { OutboundRequestError } from './outbound-request-error';

export interface PolicyFetchOptions {
  /**
   * For user-supplied base URLs: the SSRF policy (checks IP-literal hosts up front) and a
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
 */
function releaseWhenRead(res: Response, release: () => void): Response {
  if (!res.body || NULL_BODY_STATUSES.has(res.status)) {
    release();
    return res;
  }
  const body = res.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({ flush: release }),
  );
  const wrapped = new Response(body, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
  Object.defineProperty(wrapped, 'url', { value: res.url });
  return wrapped;
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

/**
 * A WHATWG `fetch` for SDK clients (openai, Anthropic, Ollama): one call timeout, retries with
 * exponential backoff that honour Retry-After, and optionally the SSRF guard. SDK retries are
 * turned off where this is used, so there is one retry policy.
 */
export function createPolicyFetch(options: PolicyFetchOptions): typeof fetch {
  const base = options.baseDelayMs ?? 500;
  const maxDelay = options.maxRetryDelayMs ?? 30_000;
  const policy = options.guard?.policy;
  const dispatcher = options.guard?.dispatcher;

  const policyFetch = async (input: FetchInput, init?: FetchInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    // IP literals skip DNS lookup, so the guard checks them here.
    if (policy) policy.assertHostAllowed(url.hostname);
    const timedOut = () =>
      new OutboundRequestError(
        'timeout',
        `Request to ${url.host} timed out after ${options.timeoutMs} ms`,
        { url: url.toString() },
      );
    // Aborting with our own reason: a body (stream) cut by the deadline then fails with a clear
    // "timed out" error, not a DOMException saying "aborted" (which reads as a caller's abort).
    const deadlineController = new AbortController();
    const timer = setTimeout(() => deadlineController.abort(timedOut()), options.timeoutMs).unref();
    const deadline = deadlineController.signal;
    const signal = init?.signal ? AbortSignal.any([init.signal, deadline]) : deadline;
    const body = init?.body;
    const replayable =
      body == null ||
      typeof body === 'string' ||
      body instanceof Uint8Array ||
      body instanceof ArrayBuffer;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = (await undiciFetch(input as string, {
          ...(init as object),
          signal,
          ...(dispatcher ? { dispatcher } : {}),
        })) as unknown as Response;
      } catch (err) {
        if (deadline.aborted && !init?.signal?.aborted) throw timedOut();
        throw err;
      }
      if (!isRetryable(res.status) || attempt >= options.maxRetries || !replayable) {
        return releaseWhenRead(res, () => clearTimeout(timer));
      }
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
  return policyFetch;
}
