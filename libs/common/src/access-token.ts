/** Who a verified access token belongs to. */
export interface AuthPrincipal {
  accountId: string;
  role?: string;
  /** Set for access tokens (console sessions). */
  sessionId?: string;
  /** Set when the request authenticated with an API key. */
  apiKeyId?: string;
}

/**
 * Verifies access tokens for HTTP guards and the socket.io handshake alike, so both accept
 * exactly the same tokens. The auth module provides the implementation.
 */
export abstract class AccessTokenVerifier {
  abstract verify(token: string): Promise<AuthPrincipal | null>;
}

/** `Authorization: Bearer <token>` -> token. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const m = value ? /^Bearer\s+(\S+)$/i.exec(value.trim()) : null;
  return m?.[1];
}
