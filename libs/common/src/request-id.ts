import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';
const VALID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The correlation id of a request: the caller's X-Request-Id when it is sane, else a new UUID.
 * Stored on the request and echoed in the response header. Used as pino-http's genReqId.
 */
export function assignRequestId(req: IncomingMessage, res: ServerResponse): string {
  const existing = (req as { id?: unknown }).id;
  if (typeof existing === 'string' && existing) return existing;
  const given = req.headers[REQUEST_ID_HEADER];
  const id = typeof given === 'string' && VALID.test(given) ? given : randomUUID();
  (req as { id?: string }).id = id;
  if (!res.headersSent) res.setHeader('X-Request-Id', id);
  return id;
}
