import { findOutboundError, sanitizeReason } from '@app/http';

const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isInteger(v) && v >= 100 && v <= 599 ? v : undefined;

/** The structured reason SDKs parse from an error body (OpenAI, Anthropic, Ollama shapes). */
function structuredReason(body: unknown): string | undefined {
  if (typeof body === 'string') return body;
  if (!body || typeof body !== 'object') return undefined;
  const b = body as { message?: unknown; error?: unknown };
  if (typeof b.message === 'string') return b.message;
  if (typeof b.error === 'string') return b.error;
  if (b.error && typeof b.error === 'object') {
    const message = (b.error as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  }
  return undefined;
}

/** What SDKs put around the reason: "401 ...", "Error 502: ...", "status code (no body)", hints. */
function bareReason(message: string): string {
  return message
    .replace(/\s*Troubleshooting URL:.*$/s, '')
    .replace(/^(?:Error\s+)?\d{3}:?\s*/, '')
    .replace(/^status code \(no body\)$/, '');
}

/**
 * The one mapping from a failed model call to what a user sees (credential test answer,
 * last_test_error, AI helper errors): our own outbound errors as they are, a provider's answer
 * as its HTTP status plus at most a short sanitized reason, never an upstream body verbatim.
 */
export function modelErrorMessage(err: unknown): string {
  const own = findOutboundError(err);
  if (own) return sanitizeReason(own.message, 300);
  const e = (err ?? {}) as { status?: unknown; status_code?: unknown; error?: unknown };
  const message = err instanceof Error ? err.message : String(err);
  const status = num(e.status) ?? num(e.status_code);
  if (status === undefined) return sanitizeReason(bareReason(message)) || 'The model call failed';
  const reason = sanitizeReason(bareReason(structuredReason(e.error) ?? message));
  return `HTTP ${status}${reason ? `: ${reason}` : ''}`;
}
