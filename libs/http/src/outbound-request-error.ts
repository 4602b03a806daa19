/** Why an outbound request failed; stable strings that callers (and API error bodies) can rely on. */
export type OutboundErrorCode =
  | 'ssrf_blocked'
  | 'timeout'
  | 'too_large'
  | 'http_error'
  | 'network'
  | 'invalid_url'
  | 'too_many_redirects'
  | 'aborted'
  | 'invalid_response'
  | 'invalid_request';

export interface OutboundRequestErrorOptions {
  /** HTTP status of the response that caused the error, when there was one. */
  status?: number;
  /** The URL being requested (origin and path; never credentials). */
  url?: string;
  cause?: unknown;
}

/** The only error type the outbound client throws, so callers can map it without guessing. */
export class OutboundRequestError extends Error {
  override readonly name = 'OutboundRequestError';
  readonly code: OutboundErrorCode;
  readonly status?: number;
  readonly url?: string;

  constructor(code: OutboundErrorCode, message: string, options: OutboundRequestErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.status !== undefined) this.status = options.status;
    if (options.url !== undefined) this.url = options.url;
  }
}

/** True for our own error, including one wrapped as a `cause` by undici or node:net. */
export function findOutboundError(err: unknown): OutboundRequestError | undefined {
  for (let e = err, depth = 0; e && depth < 5; depth++) {
    if (e instanceof OutboundRequestError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
