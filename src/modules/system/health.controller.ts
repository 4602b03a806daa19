import { Public, RawResponse, REDIS_FAST } from '@app/common';
import type { RedisClient } from '@app/common';
import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import {
  HealthCheck,
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorFunction,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';

/** Each dependency gets this long to answer, so /health/ready answers within a second. */
const CHECK_TIMEOUT_MS = 500;

/** Probes for orchestrators: no envelope, 200 or 503; never rate-limited (no Redis on /live). */
@ApiTags('system')
@SkipThrottle()
@Public()
@RawResponse()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    @Inject(REDIS_FAST) private readonly redis: RedisClient,
  ) {}

  /** The process is up and its event loop answers; touches no dependency (an outage is not a crash). */
  @Get('live')
  @ApiOperation({ operationId: 'healthLive', summary: 'Liveness probe' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** The database (and Redis when configured) answer within 500 ms each; 503 naming the failing one otherwise. */
  @Get('ready')
  @HealthCheck()
  @ApiOperation({ operationId: 'healthReady', summary: 'Readiness probe' })
  ready(): Promise<HealthCheckResult> {
    const checks: HealthIndicatorFunction[] = [
      () => this.db.pingCheck('database', { timeout: CHECK_TIMEOUT_MS }),
    ];
    const redis = this.redis;
    if (redis) {
      checks.push(async () => {
        const indicator = this.indicators.check('redis');
        try {
          const pong: string = await Promise.race([
            redis.ping(),
            new Promise<never>((_, reject) =>
              setTimeout(
                () => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)),
                CHECK_TIMEOUT_MS,
              ).unref(),
            ),
          ]);
          return pong === 'PONG'
            ? indicator.up()
            : indicator.down({ message: `unexpected reply ${pong}` });
        } catch (err) {
          return indicator.down({ message: (err as Error).message });
        }
      });
    }
    return this.health.check(checks);
  }
}
