import { AccessTokenVerifier, AuthPrincipal } from '@app/common';
import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';

interface AccessClaims {
  sub?: unknown;
  role?: unknown;
  sid?: unknown;
  typ?: unknown;
}

/** Access tokens are HS256 JWTs signed with JWT_SECRET; `sub` is the account id. */
@Injectable()
export class JwtAccessTokenVerifier extends AccessTokenVerifier {
  constructor(private readonly jwt: JwtService) {
    super();
  }

  async verify(token: string): Promise<AuthPrincipal | null> {
    try {
      const claims = await this.jwt.verifyAsync<AccessClaims>(token, { algorithms: ['HS256'] });
      if (typeof claims.sub !== 'string' || !claims.sub) return null;
      if (claims.typ !== undefined && claims.typ !== 'access') return null;
      return {
        accountId: claims.sub,
        role: typeof claims.role === 'string' ? claims.role : undefined,
        sessionId: typeof claims.sid === 'string' ? claims.sid : undefined,
      };
    } catch {
      return null;
    }
  }
}
