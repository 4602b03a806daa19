import { AccessTokenVerifier, AuthPrincipal } from '@app/common';
import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { SessionService } from './services/session.service';

interface AccessClaims {
  sub?: unknown;
  role?: unknown;
  sid?: unknown;
  typ?: unknown;
}

/**
 * Access tokens are HS256 JWTs (`sub` account, `sid` session, `typ: access`). A valid signature is
 * not enough: the session must still be active, so logout and password changes end tokens at once.
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
    if (!(await this.sessions.isActive(claims.sid))) return null;
    return {
      accountId: claims.sub,
      role: typeof claims.role === 'string' ? claims.role : undefined,
      sessionId: claims.sid,
    };
  }
}
