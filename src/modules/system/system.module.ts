import { AppConfig } from '@app/config';
import { DynamicModule, Module, Provider } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { MaintenanceScheduler } from './maintenance.scheduler';
import { PurgeJobsProcessor, SelfTestProcessor } from './maintenance.processors';
import { MetricsController } from './metrics.controller';
import { QueueMetricsService } from './queue-metrics.service';
import { SystemController } from './system.controller';

/** Health, metrics and scheduled maintenance. Schedules run in the api role only. */
@Module({})
export class SystemModule {
  static forRoot(config: AppConfig): DynamicModule {
    const api = config.hasRole('api');
    const providers: Provider[] = [SelfTestProcessor, PurgeJobsProcessor, QueueMetricsService];
    if (api) providers.push(MaintenanceScheduler);
    return {
      module: SystemModule,
      imports: [
        TerminusModule.forRoot({ logger: false, errorLogStyle: 'json' }),
        ...(api ? [ScheduleModule.forRoot()] : []),
      ],
      controllers: api ? [SystemController, HealthController, MetricsController] : [],
      providers,
    };
  }
}
