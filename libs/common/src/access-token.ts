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
  /**
   * The principal of a session while it is live (not signed out or revoked, its account there),
   * with the account's current role; null once it is not. For connections that outlive their
   * access token (sockets): the session, not the token's expiry, decides.
   */
  abstract session(sessionId: string): Promise<AuthPrincipal | null>;
}

/** `Authorization: Bearer <token>` -> token. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const m = value ? /^Bearer\s+(\S+)$/i.exec(value.trim()) : null;
  return m?.[1];
}
