import { AccessTokenVerifier, AuthPrincipal, ExpiringMap, isUuid } from '@app/common';
import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { SessionService } from './services/session.service';

interface AccessClaims {
  sub?: unknown;
  sid?: unknown;
  typ?: unknown;
  exp?: unknown;
}

/** A token whose signature and claims were checked: who it names. */
interface VerifiedToken {
  sub: string;
  sid: string;
}

/** Distinct tokens whose verified claims are kept (a console keeps one token per session). */
const VERIFIED_CACHE_SIZE = 10_000;
const VERIFIED_CACHE_MS = 60_000;

/**
 * Access tokens are HS256 JWTs (`sub` account, `sid` session, `typ: access`). A valid signature is
 * not enough: the session must still be active (logout and password changes end tokens at once)
 * and belong to `sub`, and the role is the account's current one: the token's `role` claim is
 * never trusted, so a token signed with a leaked secret cannot borrow another account or a role.
 */
@Injectable()
export class JwtAccessTokenVerifier extends AccessTokenVerifier {
  /**
   * The same token string always verifies to the same claims, and checking the HS256 signature
   * (jsonwebtoken turns the secret into a key object on every call) was the largest single cost
   * of an authenticated request. The session check below still runs on every request.
   */
  private readonly verified = new ExpiringMap<string, VerifiedToken>(
    VERIFIED_CACHE_SIZE,
    VERIFIED_CACHE_MS,
  );

  constructor(
    private readonly jwt: JwtService,
    private readonly sessions: SessionService,
  ) {
    super();
  }

  async verify(token: string): Promise<AuthPrincipal | null> {
    const claims = await this.claimsOf(token);
    if (!claims) return null;
    const principal = await this.session(claims.sid);
    return principal?.accountId === claims.sub ? principal : null;
  }

  async session(sessionId: string): Promise<AuthPrincipal | null> {
    if (!isUuid(sessionId)) return null;
    const session = await this.sessions.lookup(sessionId);
    return session ? { accountId: session.accountId, role: session.role, sessionId } : null;
  }

  /** The token's subject and session when its signature, type and expiry hold; else null. */
  private async claimsOf(token: string): Promise<VerifiedToken | null> {
    const hit = this.verified.get(token);
    if (hit) return hit;
    let claims: AccessClaims;
    try {
      claims = await this.jwt.verifyAsync<AccessClaims>(token, { algorithms: ['HS256'] });
    } catch {
      return null;
    }
    if (typeof claims.sub !== 'string' || !claims.sub) return null;
    if (claims.typ !== 'access' || typeof claims.sid !== 'string') return null;
    // Not a session id we could have issued: answer without a query (it would only error).
    if (!isUuid(claims.sid)) return null;
    const verified = { sub: claims.sub, sid: claims.sid };
    // Kept until the token's own expiry, at most VERIFIED_CACHE_MS (no exp: not kept).
    const expiresIn = typeof claims.exp === 'number' ? claims.exp * 1000 - Date.now() : 0;
    this.verified.set(token, verified, expiresIn);
    return verified;
  }
}
