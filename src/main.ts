import 'reflect-metadata';
import { EnvelopeExpressAdapter } from '@app/common';
import { AppConfig, ConfigValidationError, loadDotEnv } from '@app/config';
import { Logger as NestLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { releaseBootMemory } from './bootstrap/boot-memory';
import { configureApp } from './bootstrap/configure-app';
import { installGracefulShutdown } from './bootstrap/shutdown';

async function bootstrap(): Promise<void> {
  let config: AppConfig;
  try {
    loadDotEnv();
    config = new AppConfig();
  } catch (err) {
    if (err instanceof ConfigValidationError) {
      // One line naming every bad variable, then stop: no half-configured service.
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const module = AppModule.forRoot(config);

  if (!config.hasRole('api')) {
    // Worker role: no HTTP; queue processors only.
    const ctx = await NestFactory.createApplicationContext(module, { bufferLogs: true });
    ctx.useLogger(ctx.get(Logger));
    releaseBootMemory();
    installGracefulShutdown(ctx, ctx.get(Logger), config.env.SHUTDOWN_TIMEOUT_MS);
    ctx.get(Logger).log(`LLMOps worker started: ${config.describe()}`, 'Bootstrap');
    return;
  }

  const app = await NestFactory.create<NestExpressApplication>(
    module,
    new EnvelopeExpressAdapter(),
    { bufferLogs: true, bodyParser: false },
  );
  configureApp(app, config);
  await app.init();
  // Before listening: the collection's pause holds up no request.
  releaseBootMemory();
  await app.listen(config.env.PORT, config.env.HOST);
  const logger = app.get(Logger);
  installGracefulShutdown(app, logger, config.env.SHUTDOWN_TIMEOUT_MS);
  logger.log(
    `LLMOps listening on http://${config.env.HOST}:${config.env.PORT} (${config.describe()})`,
    'Bootstrap',
  );
}

bootstrap().catch((err: unknown) => {
  new NestLogger('Bootstrap').error(
    err instanceof Error ? (err.stack ?? err.message) : String(err),
  );
  process.exit(1);
});
