import type { Request } from 'express';
import type { ClientInfo } from './services/session.service';

/** IP (honours TRUST_PROXY through Express's req.ip) and user agent of a request. */
export function clientInfo(req: Request): ClientInfo {
  const ip = (req.ip ?? req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  return { ip, userAgent: String(req.headers['user-agent'] ?? '') };
}
