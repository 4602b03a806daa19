import { JobContext, JobProcessor, JobQueue, Processor } from '@app/queue';
import { Injectable, Logger } from '@nestjs/common';
import { Cron, CronExpression } from '@nestjs/schedule';
import { LoginThrottleService } from './services/login-throttle.service';
import { OAuthStateService } from './services/oauth-state.service';
import { SessionService } from './services/session.service';

@Injectable()
@Processor('maintenance.purge-auth')
export class PurgeAuthProcessor implements JobProcessor<'maintenance.purge-auth'> {
  constructor(
    private readonly sessions: SessionService,
    private readonly states: OAuthStateService,
    private readonly throttle: LoginThrottleService,
  ) {}

  async process(ctx: JobContext<'maintenance.purge-auth'>) {
    const sessions = await this.sessions.purge();
    await ctx.progress(50);
    const states = await this.states.purge();
    const failures = await this.throttle.purge();
    return { sessions, oauth_states: states, login_failures: failures };
  }
}

/** Hourly purge (api role). The key makes one tick idempotent across api replicas. */
@Injectable()
export class AuthMaintenanceScheduler {
  private readonly logger = new Logger('AuthMaintenance');
  constructor(private readonly jobs: JobQueue) {}

  @Cron(CronExpression.EVERY_HOUR, { name: 'purge-auth' })
  async schedule(): Promise<void> {
    const hour = new Date().toISOString().slice(0, 13);
    const job = await this.jobs.enqueue(
      'maintenance.purge-auth',
      {},
      { key: `purge-auth:${hour}`, attempts: 2 },
    );
    this.logger.debug(`purge-auth scheduled (${job.id})`);
  }
}
