import {
  AllExceptionsFilter,
  assignRequestId,
  createValidationPipe,
  errLogSerializer,
  MetricsModule,
  REDIS_FAST,
  RedisClient,
  RedisModule,
  redactRequestSerializer,
  RouteEnvelopeGuard,
  RouteParamsPipe,
} from '@app/common';
import { AppConfig, ConfigModule } from '@app/config';
import { DatabaseModule } from '@app/database';
import { OutboundHttpModule } from '@app/http';
import { QueueBoardModule, QueueModule } from '@app/queue';
import { RealtimeModule } from '@app/realtime';
import { StorageModule } from '@app/storage';
import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ThrottlerModule } from '@nestjs/throttler';
import { LoggerModule } from 'nestjs-pino';
import { hostname } from 'node:os';
import type { DestinationStream } from 'pino';
import type { Options } from 'pino-http';
import { AppThrottlerGuard } from './bootstrap/throttler.guard';
import {
  MemoryThrottlerStorage,
  RedisThrottlerStorage,
  throttlerKey,
} from './bootstrap/throttler.storage';
import { AnalysisModule } from './modules/analysis/analysis.module';
import { AppsModule } from './modules/app/app.module';
import { AuthModule } from './modules/auth/auth.module';
import { DownloadModule } from './modules/download/download.module';
import { DatasetModule } from './modules/dataset/dataset.module';
import { ModelModule } from './modules/model/model.module';
import { SystemModule } from './modules/system/system.module';
import { ToolModule } from './modules/tool/tool.module';
import { WorkflowModule } from './modules/workflow/workflow.module';
import { ChatModule } from './modules/chat/chat.module';

/** Root module: infrastructure, then the area modules, then the global pipe/filter/guards. */
@Module({})
export class AppModule {
  /** `logStream` replaces stdout as the log destination (tests read what is logged). */
  static forRoot(config: AppConfig, opts: { logStream?: DestinationStream } = {}): DynamicModule {
    const pinoHttp = {
      level: config.env.LOG_LEVEL,
      genReqId: (req, res) => assignRequestId(req, res),
      autoLogging: { ignore: (req) => /^\/(health\/|metrics)/.test(req.url ?? '') },
      redact: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
      // Query strings may carry tokens and keys; errors may carry SQL parameters.
      serializers: { req: redactRequestSerializer, err: errLogSerializer },
      // In the base bindings, not per request: a per-request binding costs a child logger each.
      base: { pid: process.pid, hostname: hostname(), roles: config.env.APP_ROLES.join(',') },
    } satisfies Options;
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config.env),
        LoggerModule.forRoot({
          pinoHttp: opts.logStream ? [pinoHttp, opts.logStream] : pinoHttp,
          // pino-http binds each request to a child logger, serializing the request at once, even
          // when nothing is logged: with logs off it is not mounted (configureApp still assigns
          // every request its id).
          forRoutes: config.env.LOG_LEVEL === 'silent' ? [] : ['*path'],
        }),
        EventEmitterModule.forRoot({ wildcard: false, maxListeners: 50 }),
        MetricsModule,
        RedisModule,
        DatabaseModule,
        QueueModule.forRoot(config),
        StorageModule,
        OutboundHttpModule,
        RealtimeModule.forRoot(config),
        ThrottlerModule.forRootAsync({
          inject: [AppConfig, REDIS_FAST],
          useFactory: (cfg: AppConfig, redis: RedisClient) => ({
            throttlers: [
              {
                name: 'default',
                ttl: cfg.env.THROTTLE_TTL_SECONDS * 1000,
                limit: cfg.env.THROTTLE_LIMIT,
              },
            ],
            storage: redis
              ? new RedisThrottlerStorage(redis, cfg.env.REDIS_PREFIX)
              : new MemoryThrottlerStorage(),
            errorMessage: 'Too many requests, please slow down and try again later',
            generateKey: throttlerKey,
          }),
        }),
        AuthModule.forRoot(config),
        ModelModule,
        DownloadModule,
        ToolModule,
        DatasetModule,
        WorkflowModule,
        AppsModule,
        ChatModule,
        AnalysisModule.forRoot(config),
        SystemModule.forRoot(config),
        // The queue dashboard: BullMQ queues (scale mode) and HTTP (api role) only.
        ...(config.env.REDIS_URL && config.hasRole('api') ? [QueueBoardModule.register()] : []),
      ],
      providers: [
        { provide: APP_PIPE, useClass: RouteParamsPipe },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        // Marks how each request's answer is enveloped (EnvelopeExpressAdapter wraps it).
        { provide: APP_GUARD, useClass: RouteEnvelopeGuard },
        { provide: APP_GUARD, useClass: AppThrottlerGuard },
      ],
    };
  }
}
