import { FailException } from '@app/common';
import { AppConfig } from '@app/config';
import { HttpStatus, Injectable } from '@nestjs/common';
import { normalizeIp } from '@nestjs/throttler';
import { InjectRepository } from '@nestjs/typeorm';
import { DataSource, LessThan, Repository } from 'typeorm';
import { LoginFailureEntity } from '../entities/login-failure.entity';

/**
 * Limits sign-in attempts per email and per IP in the database (shared by every api replica, in
 * both modes). An attempt is reserved atomically before the password is checked, so concurrent
 * guesses cannot all slip past the count: at most LOGIN_MAX_FAILURES attempts per subject are
 * verified within LOGIN_LOCK_MINUTES; the next one locks the subject for LOGIN_LOCK_MINUTES,
 * even with the right password. A successful sign-in gives its reservation back.
 */
@Injectable()
export class LoginThrottleService {
  constructor(
    private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    @InjectRepository(LoginFailureEntity) private readonly failures: Repository<LoginFailureEntity>,
  ) {}

  /** The email, and the IP (an IPv6 address by its /64, as the route throttles count it). */
  subjects(email: string, ip: string): string[] {
    return [`email:${email.trim().toLowerCase()}`, `ip:${ip ? normalizeIp(ip, 64) : 'unknown'}`];
  }

  /** Forgets a subject's failures (a proven password). */
  async clear(subject: string): Promise<void> {
    await this.failures.delete({ subject });
  }

  /**
   * Counts one attempt on every subject in one statement (upserts return the new count), and
   * throws a clear 429 `fail` when any subject is locked or over the limit. Only attempts that
   * pass may verify a password.
   */
  async reserve(subjects: string[]): Promise<void> {
    const windowMs = String(this.config.env.LOGIN_LOCK_MINUTES * 60_000);
    const max = this.config.env.LOGIN_MAX_FAILURES;
    const values = subjects.map((_, i) => `($${i + 3}, 1, now(), NULL::timestamptz)`).join(', ');
    // `expired`: the counting window is over (a lock lasts one window, so it is over too).
    const expired = `f.window_started_at < now() - ($2 || ' milliseconds')::interval AND (f.locked_until IS NULL OR f.locked_until <= now())`;
    const rows = await this.dataSource.query<
      Array<{ failures: number; locked_until: Date | string | null }>
    >(
      `INSERT INTO auth_login_failures AS f (subject, failures, window_started_at, locked_until)
       VALUES ${values}
       ON CONFLICT (subject) DO UPDATE SET
         failures = CASE WHEN ${expired} THEN 1 ELSE f.failures + 1 END,
         window_started_at = CASE WHEN ${expired} THEN now() ELSE f.window_started_at END,
         locked_until = CASE
           WHEN f.locked_until > now() THEN f.locked_until
           WHEN NOT (${expired}) AND f.failures + 1 > $1 THEN now() + ($2 || ' milliseconds')::interval
           ELSE NULL END,
         updated_at = now()
       RETURNING f.failures, f.locked_until`,
      [max, windowMs, ...subjects],
    );
    const now = Date.now();
    const until = rows
      .map((r) => (r.locked_until ? new Date(r.locked_until).getTime() : 0))
      .filter((t) => t > now)
      .sort((a, b) => b - a)[0];
    if (until) {
      const minutes = Math.max(1, Math.ceil((until - now) / 60_000));
      throw new FailException(
        `Too many failed sign-in attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
        { retry_after_seconds: Math.ceil((until - now) / 1000) },
        HttpStatus.TOO_MANY_REQUESTS,
      );
    }
  }

  /**
   * After a successful sign-in: the email's counter is cleared, and the IP gets its attempt back
   * (its other failures stay: it may be guessing other accounts).
   */
  async release(email: string, ip: string): Promise<void> {
    const [emailSubject, ipSubject] = this.subjects(email, ip);
    await this.clear(emailSubject);
    await this.dataSource.query(
      `UPDATE auth_login_failures SET failures = greatest(failures - 1, 0), updated_at = now()
       WHERE subject = $1 AND (locked_until IS NULL OR locked_until <= now())`,
      [ipSubject],
    );
  }

  async purge(): Promise<number> {
    const cutoff = new Date(Date.now() - this.config.env.LOGIN_LOCK_MINUTES * 60_000 * 2);
    const res = await this.failures.delete({ updated_at: LessThan(cutoff) });
    return res.affected ?? 0;
  }
}
