import { AuthPrincipal, bearerToken } from '@app/common';
import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { Strategy } from 'passport-custom';
import { ApiKeyRateLimit } from '../services/api-key-rate-limit.service';
import { ApiKeyService } from '../services/api-key.service';
import { API_KEY_PREFIX } from '../services/token.service';
import {
  API_KEY_STRATEGY,
  Refusal,
  refusal,
  retireStrategy,
  trackStrategy,
} from './passport-support';

const MISSING = refusal('An API key is required: send Authorization: Bearer llmops-v1/...');
const NOT_A_KEY = refusal('This API takes an API key (llmops-v1/...), not a console access token');
const INVALID = refusal('The API key is invalid or disabled');

/** `api-key`: a service-API key (`Authorization: Bearer llmops-v1/...`) for /openapi and /v1. */
@Injectable()
export class ApiKeyStrategy
  extends PassportStrategy<typeof Strategy, AuthPrincipal, AuthPrincipal | Refusal>(
    Strategy,
    API_KEY_STRATEGY,
  )
  implements OnModuleDestroy
{
  constructor(
    private readonly apiKeys: ApiKeyService,
    private readonly rateLimit: ApiKeyRateLimit,
  ) {
    super();
    trackStrategy(API_KEY_STRATEGY, this);
  }

  async validate(req: Request): Promise<AuthPrincipal | Refusal> {
    const token = bearerToken(req.headers.authorization);
    if (!token) return MISSING;
    if (!token.startsWith(API_KEY_PREFIX)) return NOT_A_KEY;
    const principal = await this.apiKeys.authenticate(token);
    if (!principal) return INVALID;
    // Counted once the key is known good: invalid keys only spend the per-client limit.
    await this.rateLimit.hit(principal.apiKeyId!, req.res);
    return principal;
  }

  onModuleDestroy(): void {
    retireStrategy(API_KEY_STRATEGY, this);
  }
}
