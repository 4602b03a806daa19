import { AppConfig } from '@app/config';
import { DynamicModule, Global, Module, Provider } from '@nestjs/common';
import { RealtimeEmitter } from './realtime.emitter';
import { RealtimeGateway } from './realtime.gateway';
import { RealtimeSubscriptions } from './subscriptions';

@Global()
@Module({})
export class RealtimeModule {
  /** The gateway (socket server) exists only in the api role; the emitter everywhere. */
  static forRoot(config: AppConfig): DynamicModule {
    const providers: Provider[] = [RealtimeSubscriptions, RealtimeEmitter];
    if (config.hasRole('api')) providers.push(RealtimeGateway);
    return {
      module: RealtimeModule,
      global: true,
      providers,
      exports: [RealtimeSubscriptions, RealtimeEmitter],
    };
  }
}
