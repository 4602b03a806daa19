import { DynamicModule, Global, Module } from '@nestjs/common';
import { AppConfig } from './app-config';
import type { Env } from './env.schema';

@Global()
@Module({})
export class ConfigModule {
  /** `env` overrides the process environment (tests build apps with their own). */
  static forRoot(env?: Env): DynamicModule {
    return {
      module: ConfigModule,
      global: true,
      providers: [{ provide: AppConfig, useFactory: () => new AppConfig(env) }],
      exports: [AppConfig],
    };
  }
}
