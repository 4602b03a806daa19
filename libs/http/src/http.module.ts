import { AppConfig } from '@app/config';
import { Global, Module } from '@nestjs/common';
import { OutboundHttpClient } from './outbound-http.client';

/** Global so that every feature module calls user-supplied URLs through the same guarded client. */
@Global()
@Module({
  providers: [
    {
      provide: OutboundHttpClient,
      useFactory: (config: AppConfig) => OutboundHttpClient.fromConfig(config),
      inject: [AppConfig],
    },
  ],
  exports: [OutboundHttpClient],
})
export class OutboundHttpModule {}
