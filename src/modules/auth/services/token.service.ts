import { AppConfig } from '@app/config';
import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { createHash, randomBytes } from 'node:crypto';

export const API_KEY_PREFIX = 'llmops-v1/';

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Random url-safe string of exactly `length` characters. */
export function randomUrlSafe(length: number): string {
  return randomBytes(Math.ceil((length * 3) / 4) + 2)
    .toString('base64url')
    .slice(0, length);
}

@Injectable()
export class TokenService {
  constructor(
    private readonly jwt: JwtService,
    private readonly config: AppConfig,
  ) {}

  /** A short-lived access token bound to a session. */
  signAccess(
    accountId: string,
    sessionId: string,
    role: string,
  ): { token: string; expireAt: number } {
    const ttl = this.config.env.ACCESS_TOKEN_TTL_SECONDS;
    const expireAt = Math.floor(Date.now() / 1000) + ttl;
    const token = this.jwt.sign(
      { sub: accountId, sid: sessionId, role, typ: 'access' },
      { expiresIn: ttl, algorithm: 'HS256', issuer: 'llmops' },
    );
    return { token, expireAt };
  }

  newRefreshToken(): { token: string; hash: string } {
    const token = `rt_${randomUrlSafe(48)}`;
    return { token, hash: sha256Hex(token) };
  }

  newApiKey(): { key: string; hash: string; hint: string } {
    const secret = randomUrlSafe(48);
    const key = `${API_KEY_PREFIX}${secret}`;
    return {
      key,
      hash: sha256Hex(key),
      hint: `${API_KEY_PREFIX}${secret.slice(0, 4)}…${secret.slice(-4)}`,
    };
  }
}
