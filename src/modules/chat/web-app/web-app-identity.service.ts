import { AccessTokenVerifier, bearerToken, isUuid, UnauthorizedError } from '@app/common';
import { isUniqueViolation } from '@app/database';
import { AppConfig } from '@app/config';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Request, Response } from 'express';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { IsNull, Repository } from 'typeorm';
import { EndUserEntity } from '../entities/end-user.entity';

/** A published app as the web-app identity needs it. */
export interface WebAppRef {
  appId: string;
  /** The owner's account (end users and their conversations are on it). */
  accountId: string;
}

/** The route families that read the visitor cookie (each gets its own copy, scoped to it). */
export const WEB_APP_COOKIE_PATHS = ['/web-apps/', '/conversations/'] as const;
const COOKIE_PREFIX = 'llmops_wa_';
const COOKIE_MAX_AGE_MS = 365 * 24 * 3600 * 1000;
/** Domain separation: the cookie key is derived from JWT_SECRET, never the secret itself. */
const KEY_LABEL = 'llmops web-app end-user cookie v1';

/**
 * Who talks to a web app (CONSOLE-SHAPES §4.10, "Login requirement"): web apps work without a
 * console login, one end user per browser and app.
 * - A request with a console access token talks as the end user bound to that account on this
 *   app (end_users.created_by_account, created once): a signed-in user's conversations follow
 *   the login across browsers. A token that is present but invalid answers unauthorized (as on
 *   every console route), it is never silently downgraded.
 * - Otherwise the visitor is the anonymous end user named by the app's cookie
 *   `llmops_wa_<app id>`: `<end user id>.<HMAC-SHA256 of app id and end user id>`, keyed by a
 *   key derived from JWT_SECRET; HttpOnly, SameSite=Lax, Secure on https, one year, one copy
 *   scoped to `/web-apps/` and one to `/conversations/` (the §4.11 routes the page uses). A
 *   forged or tampered cookie, or one of another app, is ignored (the visitor is a stranger and
 *   gets a new end user on the first chat); the end user must also exist on this app.
 */
@Injectable()
export class WebAppIdentity {
  private readonly key: Buffer;

  constructor(
    config: AppConfig,
    private readonly verifier: AccessTokenVerifier,
    @InjectRepository(EndUserEntity) private readonly users: Repository<EndUserEntity>,
  ) {
    this.key = createHmac('sha256', config.env.JWT_SECRET).update(KEY_LABEL).digest();
  }

  /** The console account of a request's access token; null without one; unauthorized if invalid. */
  async signedInAccount(req: Request): Promise<string | null> {
    const token = bearerToken(req.headers.authorization);
    if (!token) return null;
    const principal = await this.verifier.verify(token);
    if (!principal || principal.apiKeyId) throw new UnauthorizedError();
    return principal.accountId;
  }

  /** Whether the request carries any web-app visitor cookie (signed or not). */
  hasVisitorCookie(req: Request): boolean {
    return parseCookies(req).some(([name]) => name.startsWith(COOKIE_PREFIX));
  }

  /** The current end user of the app, or null when the visitor has none yet (nothing is made). */
  async current(req: Request, app: WebAppRef): Promise<EndUserEntity | null> {
    const accountId = await this.signedInAccount(req);
    return accountId ? this.boundTo(app, accountId) : this.anonymous(req, app);
  }

  /**
   * The current end user, created when there is none: the account's bound end user, or a new
   * anonymous one whose cookie is set on `res` (refreshed on every call so it does not expire).
   */
  async currentOrCreate(req: Request, res: Response, app: WebAppRef): Promise<EndUserEntity> {
    const accountId = await this.signedInAccount(req);
    if (accountId) return (await this.boundTo(app, accountId)) ?? this.bind(app, accountId);
    const user =
      (await this.anonymous(req, app)) ??
      (await this.users.save(
        this.users.create({
          account_id: app.accountId,
          app_id: app.appId,
          created_by_account: null,
        }),
      ));
    this.setCookie(req, res, app.appId, user.id);
    return user;
  }

  /** The end user id the app's cookie names when its signature holds (no database check). */
  cookieEndUser(req: Request, appId: string): string | null {
    const name = cookieName(appId);
    const value = parseCookies(req).find(([n]) => n === name)?.[1];
    if (!value) return null;
    const dot = value.indexOf('.');
    const id = value.slice(0, dot);
    if (dot < 0 || !isUuid(id)) return null;
    const given = Buffer.from(value.slice(dot + 1));
    const expected = Buffer.from(this.sign(appId, id));
    return given.length === expected.length && timingSafeEqual(given, expected) ? id : null;
  }

  /**
   * Whether the request may act as end user `endUserId` of the app: the account it is bound to
   * (signed in as that account) or, for an anonymous end user, the app's valid cookie naming it.
   */
  async mayActAs(req: Request, app: WebAppRef, endUserId: string): Promise<boolean> {
    if (!isUuid(endUserId)) return false;
    const user = await this.users.findOne({
      where: { id: endUserId, app_id: app.appId, account_id: app.accountId },
    });
    if (!user) return false;
    if (user.created_by_account)
      return (await this.signedInAccount(req)) === user.created_by_account;
    return this.cookieEndUser(req, app.appId) === user.id;
  }

  private async anonymous(req: Request, app: WebAppRef): Promise<EndUserEntity | null> {
    const id = this.cookieEndUser(req, app.appId);
    if (!id) return null;
    return this.users.findOne({
      where: {
        id,
        app_id: app.appId,
        account_id: app.accountId,
        created_by_account: IsNull(),
      },
    });
  }

  private boundTo(app: WebAppRef, accountId: string): Promise<EndUserEntity | null> {
    return this.users.findOne({
      where: { app_id: app.appId, account_id: app.accountId, created_by_account: accountId },
    });
  }

  private async bind(app: WebAppRef, accountId: string): Promise<EndUserEntity> {
    try {
      return await this.users.save(
        this.users.create({
          account_id: app.accountId,
          app_id: app.appId,
          created_by_account: accountId,
        }),
      );
    } catch (err) {
      // A concurrent first request of the same account made it first.
      if (!isUniqueViolation(err)) throw err;
      const made = await this.boundTo(app, accountId);
      if (!made) throw err;
      return made;
    }
  }

  private setCookie(req: Request, res: Response, appId: string, endUserId: string): void {
    const value = `${endUserId}.${this.sign(appId, endUserId)}`;
    for (const path of WEB_APP_COOKIE_PATHS)
      res.cookie(cookieName(appId), value, {
        httpOnly: true,
        sameSite: 'lax',
        secure: req.secure,
        path,
        maxAge: COOKIE_MAX_AGE_MS,
      });
  }

  private sign(appId: string, endUserId: string): string {
    return createHmac('sha256', this.key).update(`${appId}|${endUserId}`).digest('base64url');
  }
}

/** The cookie of one app's visitor (one per app, so a browser can use several web apps). */
export function cookieName(appId: string): string {
  return `${COOKIE_PREFIX}${appId.replace(/-/g, '')}`;
}

/** The request's cookies as [name, value] pairs (undecodable values are skipped). */
function parseCookies(req: Request): Array<[string, string]> {
  const header = req.headers.cookie;
  if (!header) return [];
  const out: Array<[string, string]> = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    try {
      out.push([part.slice(0, eq).trim(), decodeURIComponent(part.slice(eq + 1).trim())]);
    } catch {
      // A malformed value is no identity.
    }
  }
  return out;
}
