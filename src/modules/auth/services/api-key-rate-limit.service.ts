import { AppConfig } from '@app/config';
import { Inject, Injectable } from '@nestjs/common';
import { ThrottlerException, ThrottlerStorage } from '@nestjs/throttler';
import type { Response } from 'express';

/** The throttler name of the per-key counters (the storage keeps each name's windows apart). */
const THROTTLER_NAME = 'api-key';
export const API_KEY_THROTTLED =
  'Too many requests with this API key, please slow down and try again later';

/**
 * Requests per API key and window (API_KEY_THROTTLE_LIMIT per THROTTLE_TTL_SECONDS), whatever
 * address they come from: the per-client limit alone lets a key that leaked be spent from many
 * addresses at once. Counted in the app's throttler storage, so every process shares the count in
 * scale mode, and like the per-client limit it fails open while Redis is away.
 */
@Injectable()
export class ApiKeyRateLimit {
  constructor(
    @Inject(ThrottlerStorage) private readonly storage: ThrottlerStorage,
    private readonly config: AppConfig,
  ) {}

  /** Counts one request of `apiKeyId`; over the limit, sets Retry-After and throws 429. */
  async hit(apiKeyId: string, res: Response | undefined): Promise<void> {
    const limit = this.config.env.API_KEY_THROTTLE_LIMIT;
    if (limit === 0) return;
    const ttl = this.config.env.THROTTLE_TTL_SECONDS * 1000;
    const hit = await this.storage.increment(
      `${THROTTLER_NAME}:${apiKeyId}`,
      ttl,
      limit,
      ttl,
      THROTTLER_NAME,
    );
    res?.setHeader('X-RateLimit-Limit-api-key', String(limit));
    res?.setHeader('X-RateLimit-Remaining-api-key', String(Math.max(0, limit - hit.totalHits)));
    if (!hit.isBlocked) return;
    res?.setHeader('Retry-After', String(Math.max(1, hit.timeToBlockExpire)));
    throw new ThrottlerException(API_KEY_THROTTLED);
  }
}
