export * from './app-io.adapter';
export * from './realtime.emitter';
export * from './realtime.events';
export * from './realtime.gateway';
export * from './realtime.module';
export * from './subscriptions';
