import type { IncomingMessage } from 'node:http';

export const REDACTED = '[REDACTED]';

/**
 * Query parameter names whose values are secrets or one-time grants: `token`, `access_token`,
 * `key`, `api_key`, `code`, `state`, `password`, `secret`, `signature`, and `*_token`, `*_key`,
 * `*_secret`, ... (`x-api-key` and `apiKey` spellings included).
 */
const SENSITIVE_NAME =
  /(^|[_\-.])(token|key|code|state|password|passwd|pwd|secret|signature|sig|auth|credential|credentials|session)$|^(apikey|accesstoken|refreshtoken|clientsecret|idtoken)$/i;

export function isSensitiveName(name: string): boolean {
  return SENSITIVE_NAME.test(name);
}

/** `/x?token=abc&page=2` -> `/x?token=[REDACTED]&page=2`; other parts untouched. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const parts = url.slice(q + 1).split('&');
  let changed = false;
  const out = parts.map((part) => {
    const eq = part.indexOf('=');
    const rawName = eq < 0 ? part : part.slice(0, eq);
    let name = rawName;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' '));
    } catch {
      // A malformed escape: judge the raw name.
    }
    if (eq < 0 || !isSensitiveName(name)) return part;
    changed = true;
    return `${rawName}=${REDACTED}`;
  });
  return changed ? `${url.slice(0, q)}?${out.join('&')}` : url;
}

/** A parsed query with the values of sensitive names replaced. */
export function redactQuery(query: unknown): unknown {
  if (!query || typeof query !== 'object') return query;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(query)) out[k] = isSensitiveName(k) ? REDACTED : v;
  return out;
}

/** pino's serialized request (pino-std-serializers), whose url and query may carry secrets. */
interface SerializedReq {
  url?: string;
  query?: unknown;
  raw?: IncomingMessage;
  [k: string]: unknown;
}

/** Wraps a pino request serializer so logged urls and queries never carry secrets. */
export function redactRequestSerializer<T extends SerializedReq>(serialized: T): T {
  if (typeof serialized.url === 'string') serialized.url = redactUrl(serialized.url);
  if (serialized.query !== undefined) serialized.query = redactQuery(serialized.query);
  return serialized;
}

const DB_MESSAGE = 'Database query failed';

/** TypeORM's QueryFailedError and the pg/PGlite driver errors carry SQL, parameters and rows. */
function isDatabaseError(err: Error): boolean {
  const e = err as Error & { driverError?: unknown; severity?: unknown; query?: unknown };
  return (
    err.name === 'QueryFailedError' ||
    e.driverError !== undefined ||
    (typeof e.severity === 'string' && typeof (e as { code?: unknown }).code === 'string')
  );
}

export interface SafeError {
  type: string;
  message: string;
  code?: string | number;
  stack?: string;
  cause?: SafeError;
}

/**
 * An error as it may be logged: type, message, code and stack only, never the other fields
 * errors carry (TypeORM's `query`/`parameters`/`driverError`, pg's `detail` with row values, an
 * HTTP client's request config with its headers). A database error's message is replaced too:
 * PostgreSQL quotes the offending input in it.
 */
export function safeError(value: unknown, depth = 0): SafeError {
  if (!(value instanceof Error)) return { type: typeof value, message: 'Non-error thrown' };
  const code = (value as { code?: unknown }).code;
  const out: SafeError = { type: value.name || 'Error', message: value.message };
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  if (isDatabaseError(value)) {
    out.message =
      typeof out.code === 'string' ? `${DB_MESSAGE} (SQLSTATE ${out.code})` : DB_MESSAGE;
    const frames = value.stack?.indexOf('\n    at ') ?? -1;
    out.stack = `${out.type}: ${out.message}${frames >= 0 ? value.stack!.slice(frames) : ''}`;
    return out;
  }
  if (value.stack) out.stack = value.stack;
  if (value.cause !== undefined && depth < 3) out.cause = safeError(value.cause, depth + 1);
  return out;
}

/**
 * pino's `err` serializer: pino-std-serializers hands over its own copy (every enumerable field,
 * the error in `raw`); only the safe view is logged. Values already made safe pass through.
 */
export function errLogSerializer(serialized: unknown): unknown {
  const raw = (serialized as { raw?: unknown } | null)?.raw ?? serialized;
  return raw instanceof Error ? safeError(raw) : raw;
}
