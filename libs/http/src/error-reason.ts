const MAX_REASON = 200;

/**
 * One short line safe to show a user: control and format characters and markup removed,
 * whitespace collapsed, at most `max` characters. Empty when nothing readable is left.
 */
export function sanitizeReason(value: string, max = MAX_REASON): string {
  const line = value
    // Terminal colour codes: matching ESC itself is the point here.
    // eslint-disable-next-line no-control-regex
    .replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '')
    .replace(/<[^>]*>/g, ' ')
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return line.length > max ? `${line.slice(0, max - 1).trimEnd()}…` : line;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const short = (v: unknown): string | undefined =>
  typeof v === 'string' ? sanitizeReason(v, 64) || undefined : undefined;

/**
 * An upstream error body reduced to what SDKs read (OpenAI `{error:{message,type,code}}`,
 * Anthropic `{type,error:{type,message}}`, Ollama `{error}`), every string sanitized; anything
 * else (an HTML page, plain text, a stack trace) becomes an empty body. Returns the new body.
 */
export function sanitizeErrorBody(raw: string, contentType: string | null): string {
  if (!/json/i.test(contentType ?? '') && !/^\s*\{/.test(raw)) return '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return '';
  }
  if (!isObject(parsed)) return '';
  const out: Json = {};
  const { error, message, type } = parsed;
  if (typeof error === 'string') out.error = sanitizeReason(error);
  else if (isObject(error)) {
    const e: Json = {};
    if (typeof error.message === 'string') e.message = sanitizeReason(error.message);
    if (short(error.type)) e.type = short(error.type);
    if (short(error.code) || typeof error.code === 'number')
      e.code = short(error.code) ?? error.code;
    out.error = e;
  }
  if (typeof message === 'string') out.message = sanitizeReason(message);
  if (short(type)) out.type = short(type);
  return Object.keys(out).length ? JSON.stringify(out) : '';
}
