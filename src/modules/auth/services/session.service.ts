import { ExpiringMap, UnauthorizedError } from '@app/common';
import { AppConfig } from '@app/config';
import { TransactionService } from '@app/database';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, LessThan, Not, Repository } from 'typeorm';
import { AccountEntity, AccountRole } from '../entities/account.entity';
import { AuthSessionEntity } from '../entities/auth-session.entity';
import { RefreshTokenEntity } from '../entities/refresh-token.entity';
import { AccountChanges } from './account-changes.service';
import { sha256Hex, TokenService } from './token.service';

export interface IssuedTokens {
  access_token: string;
  expire_at: number;
  refresh_token: string;
}

export interface ClientInfo {
  ip: string;
  userAgent: string;
}

/**
 * How long a "this session is alive, its account has this role" answer is reused; bounds the
 * cost of checking every request. A change of the account (role, password) drops its sessions in
 * every process at once (AccountChanges); a sign-out in another process, or a change whose
 * broadcast was lost, takes effect within this window.
 */
const ACTIVE_CACHE_MS = 2000;

/** Who a live session belongs to, as the database says now (never as the token claims). */
export interface LiveSession {
  accountId: string;
  role: AccountRole;
}

/** Sessions (one per signed-in device), refresh-token rotation with reuse detection, revocation. */
@Injectable()
export class SessionService {
  private readonly activeCache = new ExpiringMap<string, LiveSession>(10_000, ACTIVE_CACHE_MS);

  constructor(
    private readonly config: AppConfig,
    private readonly tokens: TokenService,
    private readonly tx: TransactionService,
    @InjectRepository(AuthSessionEntity) private readonly sessions: Repository<AuthSessionEntity>,
    @InjectRepository(RefreshTokenEntity)
    private readonly refreshTokens: Repository<RefreshTokenEntity>,
    private readonly changes: AccountChanges,
  ) {
    changes.onChange((accountId) =>
      accountId
        ? this.activeCache.deleteWhere((s) => s.accountId === accountId)
        : this.activeCache.clear(),
    );
  }

  async start(accountId: string, role: string, client: ClientInfo): Promise<IssuedTokens> {
    const refresh = this.tokens.newRefreshToken();
    const expires = new Date(Date.now() + this.config.env.REFRESH_TOKEN_TTL_DAYS * 86_400_000);
    const session = await this.tx.run(async (m) => {
      const s = await m.save(
        m.create(AuthSessionEntity, {
          account_id: accountId,
          ip: client.ip.slice(0, 64),
          user_agent: client.userAgent.slice(0, 500),
          expires_at: expires,
        }),
      );
      await m.save(
        m.create(RefreshTokenEntity, {
          session_id: s.id,
          account_id: accountId,
          token_hash: refresh.hash,
        }),
      );
      return s;
    });
    const access = this.tokens.signAccess(accountId, session.id, role);
    return { access_token: access.token, expire_at: access.expireAt, refresh_token: refresh.token };
  }

  /**
   * Exchanges a refresh token for new tokens. Each token works once; presenting a rotated one
   * means it was copied, so the session is revoked for both holders.
   */
  async rotate(
    refreshToken: string,
    roleOf: (accountId: string) => Promise<string | null>,
  ): Promise<IssuedTokens> {
    const invalid = () =>
      new UnauthorizedError('The refresh token is invalid or expired, please sign in again');
    const row = await this.refreshTokens.findOne({
      where: { token_hash: sha256Hex(refreshToken) },
    });
    if (!row) throw invalid();
    const session = await this.sessions.findOne({ where: { id: row.session_id } });
    if (!session || session.revoked_at || session.expires_at.getTime() <= Date.now())
      throw invalid();
    // Only one concurrent refresh may win the token; the loser is treated as reuse.
    const claimed = await this.refreshTokens
      .createQueryBuilder()
      .update()
      .set({ rotated_at: () => 'now()' })
      .where('id = :id AND rotated_at IS NULL', { id: row.id })
      .execute();
    if (!claimed.affected) {
      await this.revoke(session.id, 'refresh_reuse');
      throw new UnauthorizedError(
        'This refresh token was already used; the session has been signed out for safety',
      );
    }
    const role = await roleOf(session.account_id);
    if (!role) throw invalid();
    const next = this.tokens.newRefreshToken();
    await this.refreshTokens.save(
      this.refreshTokens.create({
        session_id: session.id,
        account_id: session.account_id,
        token_hash: next.hash,
      }),
    );
    const access = this.tokens.signAccess(session.account_id, session.id, role);
    return { access_token: access.token, expire_at: access.expireAt, refresh_token: next.token };
  }

  /**
   * The session's account and that account's current role while the session exists, is not
   * revoked and has not expired; null otherwise. Briefly cached per session: a hit touches no
   * database. `sessionId` must be a UUID (callers check it before asking).
   */
  async lookup(sessionId: string): Promise<LiveSession | null> {
    const cached = this.activeCache.get(sessionId);
    if (cached) return cached;
    const generation = this.changes.generation;
    const row = await this.sessions
      .createQueryBuilder('s')
      .innerJoin(AccountEntity, 'a', 'a.id = s.account_id')
      .select(['s.account_id AS account_id', 'a.role AS role'])
      .where('s.id = :id AND s.revoked_at IS NULL AND s.expires_at > now()', { id: sessionId })
      .getRawOne<{ account_id: string; role: AccountRole }>();
    if (!row) {
      this.activeCache.delete(sessionId);
      return null;
    }
    const live: LiveSession = { accountId: row.account_id, role: row.role };
    // Not when the account changed during the read: the row may predate the change.
    if (this.changes.generation === generation) this.activeCache.set(sessionId, live);
    return live;
  }

  /** Ends one session, in every process at once (its account's cached sessions are dropped). */
  async revoke(sessionId: string, reason: string): Promise<void> {
    this.activeCache.delete(sessionId);
    const res = await this.sessions
      .createQueryBuilder()
      .update()
      .set({ revoked_at: new Date(), revoked_reason: reason })
      .where('id = :id AND revoked_at IS NULL', { id: sessionId })
      .returning(['account_id'])
      .execute();
    const row = (res.raw as Array<{ account_id: string }>)[0];
    if (row) await this.changes.changed(row.account_id);
  }

  /** Signs out every other device of the account (password change). */
  async revokeOthers(
    accountId: string,
    keepSessionId: string | undefined,
    reason: string,
  ): Promise<number> {
    const where = keepSessionId
      ? { account_id: accountId, revoked_at: IsNull(), id: Not(keepSessionId) }
      : { account_id: accountId, revoked_at: IsNull() };
    const res = await this.sessions.update(where, {
      revoked_at: new Date(),
      revoked_reason: reason,
    });
    // Drops the account's sessions from every process's cache, after the write.
    await this.changes.changed(accountId);
    return res.affected ?? 0;
  }

  /** Deletes sessions (and their tokens) that expired or were revoked more than a day ago. */
  async purge(): Promise<number> {
    const cutoff = new Date(Date.now() - 86_400_000);
    const stale = await this.sessions.find({
      where: [{ expires_at: LessThan(cutoff) }, { revoked_at: LessThan(cutoff) }],
      select: { id: true },
      take: 5000,
    });
    if (!stale.length) return 0;
    const ids = stale.map((s) => s.id);
    await this.tx.run(async (m) => {
      await m
        .createQueryBuilder()
        .delete()
        .from(RefreshTokenEntity)
        .where('session_id IN (:...ids)', { ids })
        .execute();
      await m
        .createQueryBuilder()
        .delete()
        .from(AuthSessionEntity)
        .where('id IN (:...ids)', { ids })
        .execute();
    });
    return ids.length;
  }
}
