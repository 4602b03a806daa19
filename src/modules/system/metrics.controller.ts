import { MetricsRegistry, Public, RawResponse } from '@app/common';
import { Controller, Get, Header, NotFoundException } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';

@ApiTags('system')
@Public()
@RawResponse()
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: MetricsRegistry,
    private readonly config: AppConfig,
  ) {}

  /** Prometheus text format: HTTP latency, queue depth, job durations, process metrics. */
  @Get()
  @Header('Cache-Control', 'no-store')
  @ApiProduces('text/plain')
  @ApiOperation({ operationId: 'metrics', summary: 'Prometheus metrics' })
  async scrape(): Promise<string> {
    if (!this.config.env.METRICS_ENABLED) throw new NotFoundException();
    return this.metrics.registry.metrics();
  }
}
