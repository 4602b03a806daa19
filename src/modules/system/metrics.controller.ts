import { MetricsRegistry, Public, RawResponse } from '@app/common';
import { Controller, Get, Header, NotFoundException, Res } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';

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
  async scrape(@Res({ passthrough: true }) res: Response): Promise<string> {
    if (!this.config.env.METRICS_ENABLED) throw new NotFoundException();
    const body = await this.metrics.registry.metrics();
    // Express would send a string as text/html, which Prometheus 3 refuses to scrape.
    res.type(this.metrics.registry.contentType);
    return body;
  }
}
