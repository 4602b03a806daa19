import { AccessTokenVerifier, AuthPrincipal, bearerToken } from '@app/common';
import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { Strategy } from 'passport-custom';
import { API_KEY_PREFIX } from '../services/token.service';
import {
  ACCESS_TOKEN_STRATEGY,
  Refusal,
  refusal,
  retireStrategy,
  trackStrategy,
} from './passport-support';

const MISSING = refusal('Sign in to use this API (Authorization: Bearer <access token>)');
const API_KEY_GIVEN = refusal(
  'API keys only open the service API (/openapi, /v1); sign in to use this one',
);
const INVALID = refusal('The access token is invalid or expired, please sign in again');

/**
 * `access-token`: the console's bearer JWT, checked by the AccessTokenVerifier (signature, live
 * session of `sub`, current role) that the socket.io handshake uses too, so both accept exactly
 * the same tokens.
 */
@Injectable()
export class AccessTokenStrategy
  extends PassportStrategy<typeof Strategy, AuthPrincipal, AuthPrincipal | Refusal>(
    Strategy,
    ACCESS_TOKEN_STRATEGY,
  )
  implements OnModuleDestroy
{
  constructor(private readonly verifier: AccessTokenVerifier) {
    super();
    trackStrategy(ACCESS_TOKEN_STRATEGY, this);
  }

  async validate(req: Request): Promise<AuthPrincipal | Refusal> {
    const token = bearerToken(req.headers.authorization);
    if (!token) return MISSING;
    if (token.startsWith(API_KEY_PREFIX)) return API_KEY_GIVEN;
    return (await this.verifier.verify(token)) ?? INVALID;
  }

  onModuleDestroy(): void {
    retireStrategy(ACCESS_TOKEN_STRATEGY, this);
  }
}
