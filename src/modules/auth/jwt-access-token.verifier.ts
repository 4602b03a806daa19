import { AccessTokenVerifier, AuthPrincipal } from '@app/common';
import { Injectable } from '@nestjs/common';
import { isUUID } from 'class-validator';
import { JwtService } from '@nestjs/jwt';
import { SessionService } from './services/session.service';

interface AccessClaims {
  sub?: unknown;
  sid?: unknown;
  typ?: unknown;
}

/**
 * Access tokens are HS256 JWTs (`sub` account, `sid` session, `typ: access`). A valid signature is
 * not enough: the session must still be active (logout and password changes end tokens at once)
 * and belong to `sub`, and the role is the account's current one: the token's `role` claim is
 * never trusted, so a token signed with a leaked secret cannot borrow another account or a role.
 */
@Injectable()
export class JwtAccessTokenVerifier extends AccessTokenVerifier {
  constructor(
    private readonly jwt: JwtService,
    private readonly sessions: SessionService,
  ) {
    super();
  }

  async verify(token: string): Promise<AuthPrincipal | null> {
    let claims: AccessClaims;
    try {
      claims = await this.jwt.verifyAsync<AccessClaims>(token, { algorithms: ['HS256'] });
    } catch {
      return null;
    }
    if (typeof claims.sub !== 'string' || !claims.sub) return null;
    if (claims.typ !== 'access' || typeof claims.sid !== 'string') return null;
    // Not a session id we could have issued: answer without a query (it would only error).
    if (!isUUID(claims.sid)) return null;
    const session = await this.sessions.lookup(claims.sid);
    if (!session || session.accountId !== claims.sub) return null;
    return { accountId: session.accountId, role: session.role, sessionId: claims.sid };
  }
}
