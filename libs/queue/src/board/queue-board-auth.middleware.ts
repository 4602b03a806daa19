import {
  AccessTokenVerifier,
  bearerToken,
  envelope,
  REDIS_FAST,
  ResponseCode,
  safeError,
} from '@app/common';
import type { RedisClient } from '@app/common';
import { AppConfig } from '@app/config';
import { Inject, Injectable, Logger, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import {
  cookieValue,
  QUEUE_BOARD_COOKIE,
  QUEUE_BOARD_COOKIE_TTL_MS,
  QUEUE_BOARD_ROUTE,
  QueueBoardTickets,
} from './queue-board.tickets';

/**
 * Guards the queue dashboard, which bull-board serves (page, assets, its API) as Express
 * middleware outside Nest's guards: an admin's access token, from `Authorization: Bearer` or
 * from the board cookie set by a one-time ticket, verified like every console request (live
 * session, current role). Anything else gets 401/403 in the envelope and never reaches the board.
 */
@Injectable()
export class QueueBoardAuthMiddleware implements NestMiddleware {
  private readonly logger = new Logger('QueueBoard');
  private readonly tickets: QueueBoardTickets;

  constructor(
    private readonly verifier: AccessTokenVerifier,
    @Inject(REDIS_FAST) redis: RedisClient,
    config: AppConfig,
  ) {
    if (!redis) throw new Error('The queue dashboard needs REDIS_URL');
    this.tickets = new QueueBoardTickets(redis, config.env.REDIS_PREFIX);
  }

  async use(req: Request, res: Response, next: NextFunction): Promise<void> {
    try {
      const ticket = req.query.ticket;
      if (ticket !== undefined) {
        await this.redeem(typeof ticket === 'string' ? ticket : '', req, res);
        return;
      }
      const token =
        bearerToken(req.headers.authorization) ??
        cookieValue(req.headers.cookie, QUEUE_BOARD_COOKIE);
      if (await this.allowed(token, res)) next();
    } catch (err) {
      // Redis or the database unreachable: fail closed.
      this.logger.warn(`Queue dashboard auth failed: ${safeError(err).message}`);
      deny(res, 503, ResponseCode.FAIL, 'The queue dashboard is unavailable right now, try again');
    }
  }

  /** Trades a ticket for the board cookie, then reloads the page without the ticket. */
  private async redeem(ticket: string, req: Request, res: Response): Promise<void> {
    const token = await this.tickets.redeem(ticket);
    if (!token) {
      deny(
        res,
        401,
        ResponseCode.UNAUTHORIZED,
        'This dashboard link is invalid, expired or already used: open the dashboard again from the console',
      );
      return;
    }
    if (!(await this.allowed(token, res))) return;
    res.cookie(QUEUE_BOARD_COOKIE, token, {
      httpOnly: true,
      // Lax, not Strict: the ticket link is opened from the console's origin, and the redirect
      // below must carry the cookie; cross-site POSTs still never do.
      sameSite: 'lax',
      secure: req.secure,
      path: QUEUE_BOARD_ROUTE,
      maxAge: QUEUE_BOARD_COOKIE_TTL_MS,
    });
    const url = new URL(req.originalUrl, 'http://board.invalid');
    url.searchParams.delete('ticket');
    res.redirect(303, `${url.pathname}${url.search}`);
  }

  /** True for an admin's valid token; otherwise answers 401 or 403. */
  private async allowed(token: string | undefined, res: Response): Promise<boolean> {
    if (!token) {
      deny(
        res,
        401,
        ResponseCode.UNAUTHORIZED,
        'Sign in as an administrator to open the queue dashboard',
      );
      return false;
    }
    const principal = await this.verifier.verify(token);
    if (!principal) {
      deny(
        res,
        401,
        ResponseCode.UNAUTHORIZED,
        'The access token is invalid or expired, please sign in again',
      );
      return false;
    }
    if (principal.role !== 'admin') {
      deny(res, 403, ResponseCode.FORBIDDEN, 'Only administrators can open the queue dashboard');
      return false;
    }
    return true;
  }
}

function deny(res: Response, status: number, code: ResponseCode, message: string): void {
  res.status(status).json(envelope(code, message, {}));
}
