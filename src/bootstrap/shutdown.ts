import type { INestApplicationContext, LoggerService } from '@nestjs/common';
import type { Server } from 'node:http';

/**
 * Graceful shutdown on SIGTERM/SIGINT: stop accepting connections first, then let Nest run its
 * hooks (the job queue drains or requeues running jobs, then pools close), and exit 0. A second
 * signal or a stuck hook forces the exit.
 */
export function installGracefulShutdown(
  app: INestApplicationContext,
  logger: LoggerService,
  graceMs: number,
): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.warn?.(`${signal} received again: exiting now`, 'Shutdown');
      process.exit(1);
    }
    closing = true;
    logger.log(`${signal} received: stopping (grace ${graceMs} ms)`, 'Shutdown');
    const server = (app as { getHttpServer?: () => Server }).getHttpServer?.();
    server?.close();
    const force = setTimeout(() => {
      logger.error('Shutdown hooks did not finish in time: forcing exit', undefined, 'Shutdown');
      process.exit(1);
    }, graceMs + 15_000);
    force.unref();
    app.close().then(
      () => {
        logger.log('Stopped cleanly', 'Shutdown');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error(`Shutdown failed: ${String(err)}`, undefined, 'Shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
