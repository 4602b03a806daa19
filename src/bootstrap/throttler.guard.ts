import type { ExecutionContext } from '@nestjs/common';
import { Injectable } from '@nestjs/common';
import { normalizeIp, ThrottlerGuard, type ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerGenerateKeyFunction, ThrottlerGetTrackerFunction } from '@nestjs/throttler';
import {
  THROTTLER_BLOCK_DURATION,
  THROTTLER_KEY_GENERATOR,
  THROTTLER_LIMIT,
  THROTTLER_SKIP,
  THROTTLER_TRACKER,
  THROTTLER_TTL,
} from '@nestjs/throttler/dist/throttler.constants';
import type { Request, Response } from 'express';
import { routeMemo } from '@app/common';
import type { ImmediateThrottlerStorage, ThrottlerStorageRecord } from './throttler.storage';

function isImmediate(storage: ThrottlerStorage): storage is ImmediateThrottlerStorage {
  return typeof (storage as Partial<ImmediateThrottlerStorage>).incrementNow === 'function';
}

/** One named throttler as it applies to one route, every value already resolved. */
interface RouteThrottler {
  name: string;
  limit: number;
  ttl: number;
  blockDuration: number;
  /** null: the default tracker (the client's address), computed without a promise. */
  getTracker: ThrottlerGetTrackerFunction | null;
  generateKey: ThrottlerGenerateKeyFunction;
  setHeaders: boolean;
  /** Header names, built once: `X-RateLimit-Limit` or `X-RateLimit-Limit-<name>`, ... */
  headers: { limit: string; remaining: string; reset: string; retryAfter: string };
}

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * @nestjs/throttler's guard with its per-request setup done once per route. The library's
 * `canActivate` looks up six metadata keys on the handler and the class for every throttler,
 * awaits each resolved value, the tracker and the storage, and sets headers through Express's
 * `res.header()`: on an authenticated GET that answers from caches it cost more than a quarter of
 * the request's CPU. Here a route's throttlers are resolved from the same metadata (`@Throttle`,
 * `@SkipThrottle`, module options) on its first request and kept; a hit the storage can count
 * in memory (`ImmediateThrottlerStorage`) is decided without a promise, so the guard returns a
 * plain boolean. Same keys, limits, headers, 429 and message as the library's guard.
 *
 * A route whose limits depend on the request (function-valued `limit`/`ttl`/`blockDuration`,
 * `skipIf`, `ignoreUserAgents`) takes the library's own path on every request.
 */
@Injectable()
export class AppThrottlerGuard extends ThrottlerGuard {
  /** Each route's throttlers; null: they depend on the request (the library's path). */
  private readonly routeThrottlers = routeMemo((handler, cls) => this.resolve(handler, cls));
  /** The storage, when it can count hits without a promise. */
  private readonly immediate = isImmediate(this.storageService) ? this.storageService : null;

  override canActivate(context: ExecutionContext): Promise<boolean> {
    // Other transports (a gateway's messages) have no headers to set: the library's path.
    if (context.getType() !== 'http') return super.canActivate(context);
    const throttlers = this.routeThrottlers(context);
    if (throttlers === null) return super.canActivate(context);
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<Response>();
    for (let i = 0; i < throttlers.length; i++) {
      const t = throttlers[i];
      if (t.getTracker !== null) return this.fromIndex(context, throttlers, i);
      const tracker = this.clientAddress(req);
      const key = t.generateKey(context, tracker, t.name);
      const hit = this.immediate?.incrementNow(key, t.ttl, t.limit, t.blockDuration, t.name);
      if (hit === undefined) return this.fromIndex(context, throttlers, i);
      if (!this.admit(res, t, hit)) return this.blocked(context, res, t, key, tracker, hit);
    }
    // Nest's guard consumer takes a plain boolean as it is, without a promise.
    return true as unknown as Promise<boolean>;
  }

  /** The rest of the route's throttlers from `start`, each counted by awaiting the storage. */
  private async fromIndex(
    context: ExecutionContext,
    throttlers: RouteThrottler[],
    start: number,
  ): Promise<boolean> {
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<Response>();
    for (let i = start; i < throttlers.length; i++) {
      const t = throttlers[i];
      const tracker =
        t.getTracker === null ? this.clientAddress(req) : await t.getTracker(req, context);
      const key = t.generateKey(context, tracker, t.name);
      const hit = await this.storageService.increment(key, t.ttl, t.limit, t.blockDuration, t.name);
      if (!this.admit(res, t, hit)) return this.blocked(context, res, t, key, tracker, hit);
    }
    return true;
  }

  /** The library's default tracker (the client's address, IPv6 cut to its subnet), without a promise. */
  private clientAddress(req: Request): string {
    return normalizeIp(req.ip ?? '', this.ipv6SubnetPrefix);
  }

  /** Sets the rate-limit headers of an admitted hit; false when the hit is blocked. */
  private admit(res: Response, t: RouteThrottler, hit: ThrottlerStorageRecord): boolean {
    if (hit.isBlocked) return false;
    if (t.setHeaders) {
      res.setHeader(t.headers.limit, String(t.limit));
      res.setHeader(t.headers.remaining, String(Math.max(0, t.limit - hit.totalHits)));
      res.setHeader(t.headers.reset, String(hit.timeToExpire));
    }
    return true;
  }

  /** The library's answer to a blocked hit: Retry-After, then its ThrottlerException (429). */
  private async blocked(
    context: ExecutionContext,
    res: Response,
    t: RouteThrottler,
    key: string,
    tracker: string,
    hit: ThrottlerStorageRecord,
  ): Promise<boolean> {
    if (t.setHeaders) res.setHeader(t.headers.retryAfter, String(hit.timeToBlockExpire));
    await this.throwThrottlingException(context, {
      limit: t.limit,
      ttl: t.ttl,
      key,
      tracker,
      ...hit,
    });
    return false;
  }

  /** The library's resolution (route metadata over class metadata over options), done once. */
  private resolve(
    handler: ReturnType<ExecutionContext['getHandler']>,
    cls: ReturnType<ExecutionContext['getClass']>,
  ): RouteThrottler[] | null {
    const targets = [handler, cls];
    const get = <T>(key: string, name: string) =>
      this.reflector.getAllAndOverride<T | undefined>(key + name, targets);
    const out: RouteThrottler[] = [];
    for (const named of this.throttlers) {
      const name = named.name ?? 'default';
      if (get<boolean>(THROTTLER_SKIP, name)) continue;
      const ignoreUserAgents = named.ignoreUserAgents ?? this.commonOptions.ignoreUserAgents;
      if (named.skipIf || this.commonOptions.skipIf || ignoreUserAgents?.length) return null;
      const limit = get<unknown>(THROTTLER_LIMIT, name) ?? named.limit;
      const ttl = get<unknown>(THROTTLER_TTL, name) ?? named.ttl;
      const blockDuration =
        get<unknown>(THROTTLER_BLOCK_DURATION, name) ?? named.blockDuration ?? ttl;
      // Functions (per-request values) and invalid values: the library resolves and reports them.
      if (!isFiniteNumber(limit) || !isFiniteNumber(ttl) || !isFiniteNumber(blockDuration)) {
        return null;
      }
      const routeTracker = get<ThrottlerGetTrackerFunction>(THROTTLER_TRACKER, name);
      const moduleTracker = Array.isArray(this.options) ? undefined : this.options.getTracker;
      const customTracker = routeTracker ?? named.getTracker ?? moduleTracker ?? null;
      const generateKey =
        get<ThrottlerGenerateKeyFunction>(THROTTLER_KEY_GENERATOR, name) ??
        named.generateKey ??
        this.commonOptions.generateKey;
      if (!generateKey) return null;
      const suffix = name === 'default' ? '' : `-${name}`;
      out.push({
        name,
        limit,
        ttl,
        blockDuration,
        getTracker: customTracker,
        generateKey,
        setHeaders: named.setHeaders ?? this.commonOptions.setHeaders ?? true,
        headers: {
          limit: `${this.headerPrefix}-Limit${suffix}`,
          remaining: `${this.headerPrefix}-Remaining${suffix}`,
          reset: `${this.headerPrefix}-Reset${suffix}`,
          retryAfter: `Retry-After${suffix}`,
        },
      });
    }
    return out;
  }
}
