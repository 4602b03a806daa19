import { FailException } from '@app/common';
import { AppConfig } from '@app/config';
import { HttpStatus, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { DataSource, LessThan, Repository } from 'typeorm';
import { LoginFailureEntity } from '../entities/login-failure.entity';

/**
 * Counts failed logins per email and per IP in the database (shared by every api replica, in
 * both modes). Over LOGIN_MAX_FAILURES within the lock window, the subject is locked for
 * LOGIN_LOCK_MINUTES, even for the right password.
 */
@Injectable()
export class LoginThrottleService {
  constructor(
    private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    @InjectRepository(LoginFailureEntity) private readonly failures: Repository<LoginFailureEntity>,
  ) {}

  subjects(email: string, ip: string): string[] {
    return [`email:${email.toLowerCase()}`, `ip:${ip || 'unknown'}`];
  }

  /** Throws a clear 429-style `fail` while any subject is locked. */
  async assertNotLocked(subjects: string[]): Promise<void> {
    const rows = await this.failures.findBy(subjects.map((subject) => ({ subject })));
    const now = Date.now();
    const until = rows
      .map((r) => r.locked_until?.getTime() ?? 0)
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

  /** Records one failure per subject atomically (upsert) and locks those over the limit. */
  async recordFailure(subjects: string[]): Promise<void> {
    const windowMs = this.config.env.LOGIN_LOCK_MINUTES * 60_000;
    const max = this.config.env.LOGIN_MAX_FAILURES;
    for (const subject of subjects) {
      await this.dataSource.query(
        `INSERT INTO auth_login_failures (subject, failures, window_started_at, locked_until)
         VALUES ($1, 1, now(), CASE WHEN 1 >= $2 THEN now() + ($3 || ' milliseconds')::interval END)
         ON CONFLICT (subject) DO UPDATE SET
           failures = CASE WHEN auth_login_failures.window_started_at < now() - ($3 || ' milliseconds')::interval
                           THEN 1 ELSE auth_login_failures.failures + 1 END,
           window_started_at = CASE WHEN auth_login_failures.window_started_at < now() - ($3 || ' milliseconds')::interval
                           THEN now() ELSE auth_login_failures.window_started_at END,
           locked_until = CASE WHEN (CASE WHEN auth_login_failures.window_started_at < now() - ($3 || ' milliseconds')::interval
                           THEN 1 ELSE auth_login_failures.failures + 1 END) >= $2
                           THEN now() + ($3 || ' milliseconds')::interval ELSE auth_login_failures.locked_until END,
           updated_at = now()`,
        [subject, max, String(windowMs)],
      );
    }
  }

  /** A successful login clears the email's counter (the IP's stays: it may be guessing others). */
  async clear(email: string): Promise<void> {
    await this.failures.delete({ subject: `email:${email.toLowerCase()}` });
  }

  async purge(): Promise<number> {
    const cutoff = new Date(Date.now() - this.config.env.LOGIN_LOCK_MINUTES * 60_000 * 2);
    const res = await this.failures.delete({ updated_at: LessThan(cutoff) });
    return res.affected ?? 0;
  }
}
