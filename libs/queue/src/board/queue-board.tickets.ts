import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Where the dashboard is mounted (scale mode, api role). */
export const QUEUE_BOARD_ROUTE = '/admin/queues';
/** The cookie that carries the admin's access token to the board's page, assets and API. */
export const QUEUE_BOARD_COOKIE = 'llmops_queue_board';
/** How long a ticket (one-time link) stays valid. */
export const QUEUE_BOARD_TICKET_TTL_MS = 60_000;
/** How long the board cookie lives; the token in it is checked on every request regardless. */
export const QUEUE_BOARD_COOKIE_TTL_MS = 60 * 60_000;

const TICKET_FORMAT = /^[A-Za-z0-9_-]{43}$/;

/**
 * One-time tickets: a browser tab cannot send an Authorization header, so an admin's console
 * trades its access token for a short-lived link; opening it moves the token into an HttpOnly
 * cookie scoped to the board's path. The ticket is deleted when read (GETDEL): a leaked link
 * that was already opened is worthless.
 */
export class QueueBoardTickets {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async issue(accessToken: string): Promise<string> {
    const ticket = randomBytes(32).toString('base64url');
    await this.redis.set(this.key(ticket), accessToken, 'PX', QUEUE_BOARD_TICKET_TTL_MS);
    return ticket;
  }

  /** The access token the ticket was issued for, once; null for an unknown or used ticket. */
  async redeem(ticket: string): Promise<string | null> {
    if (!TICKET_FORMAT.test(ticket)) return null;
    return this.redis.getdel(this.key(ticket));
  }

  private key(ticket: string): string {
    return `${this.prefix}:queue-board:ticket:${ticket}`;
  }
}

/** One cookie of a Cookie header (the board is the only reader of cookies in this API). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}
