import { Public, RawResponse, REDIS } from '@app/common';
import type { RedisClient } from '@app/common';
import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorFunction,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';

/** Probes for orchestrators: no envelope, 200 or 503. */
@ApiTags('system')
@Public()
@RawResponse()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    @Inject(REDIS) private readonly redis: RedisClient,
  ) {}

  /** The process is up and its event loop answers. */
  @Get('live')
  @ApiOperation({ operationId: 'healthLive', summary: 'Liveness probe' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** The database (and Redis when configured) answer; 503 otherwise. */
  @Get('ready')
  @HealthCheck()
  @ApiOperation({ operationId: 'healthReady', summary: 'Readiness probe' })
  ready(): Promise<HealthCheckResult> {
    const checks: HealthIndicatorFunction[] = [
      () => this.db.pingCheck('database', { timeout: 3000 }),
    ];
    const redis = this.redis;
    if (redis) {
      checks.push(async () => {
        const indicator = this.indicators.check('redis');
        try {
          const pong: string = await Promise.race([
            redis.ping(),
            new Promise<never>((_, reject) =>
              setTimeout(() => reject(new Error('timeout after 3000 ms')), 3000).unref(),
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
