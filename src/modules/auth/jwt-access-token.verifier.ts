import { AccessTokenVerifier, AuthPrincipal } from '@app/common';
import { Injectable } from '@nestjs/common';
import { isUUID } from 'class-validator';
import { JwtService } from '@nestjs/jwt';
import { SessionService } from './services/session.service';

interface AccessClaims {
  sub?: unknown;
  sid?: unknown;
  typ?: unknown;
  exp?: unknown;
}

/** A token whose signature and claims were checked: who it names, and until when. */
interface VerifiedToken {
  sub: string;
  sid: string;
  /** Epoch ms after which the token must be verified again (its exp, at most a minute away). */
  until: number;
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
  private readonly verified = new Map<string, VerifiedToken>();

  constructor(
    private readonly jwt: JwtService,
    private readonly sessions: SessionService,
  ) {
    super();
  }

  async verify(token: string): Promise<AuthPrincipal | null> {
    const claims = await this.claimsOf(token);
    if (!claims) return null;
    const session = await this.sessions.lookup(claims.sid);
    if (!session || session.accountId !== claims.sub) return null;
    return { accountId: session.accountId, role: session.role, sessionId: claims.sid };
  }

  /** The token's subject and session when its signature, type and expiry hold; else null. */
  private async claimsOf(token: string): Promise<VerifiedToken | null> {
    const now = Date.now();
    const hit = this.verified.get(token);
    if (hit && hit.until > now) return hit;
    let claims: AccessClaims;
    try {
      claims = await this.jwt.verifyAsync<AccessClaims>(token, { algorithms: ['HS256'] });
    } catch {
      this.verified.delete(token);
      return null;
    }
    if (typeof claims.sub !== 'string' || !claims.sub) return null;
    if (claims.typ !== 'access' || typeof claims.sid !== 'string') return null;
    // Not a session id we could have issued: answer without a query (it would only error).
    if (!isUUID(claims.sid)) return null;
    const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : now;
    const verified = {
      sub: claims.sub,
      sid: claims.sid,
      until: Math.min(exp, now + VERIFIED_CACHE_MS),
    };
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.clear();
    this.verified.set(token, verified);
    return verified;
  }
}
