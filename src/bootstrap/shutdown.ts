import type { INestApplicationContext, LoggerService } from '@nestjs/common';
import type { Server } from 'node:http';

/**
 * Past SHUTDOWN_TIMEOUT_MS (the jobs' grace), what the remaining bounded steps may take: aborted
 * jobs settling (ABORT_SETTLE_MS), workers' force-close, queues, pools and Redis connections.
 */
export const SHUTDOWN_MARGIN_MS = 4_000;

/** What still keeps the event loop busy, e.g. "TCPSocketWrap x3, Timeout x1". */
function pendingResources(): string {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return [...counts].map(([r, n]) => `${r} x${n}`).join(', ') || 'nothing';
}

/**
 * Graceful shutdown on SIGTERM/SIGINT: stop accepting connections first, then let Nest run its
 * hooks (the job queue drains or requeues running jobs, then pools close), and exit 0. A hard
 * deadline of `graceMs` + SHUTDOWN_MARGIN_MS ends the process whatever Redis or the database
 * do (an unreachable one can hold a hook forever); a second signal exits at once.
 */
export function installGracefulShutdown(
  app: INestApplicationContext,
  logger: LoggerService,
  graceMs: number,
  exit: (code: number) => void = (code) => process.exit(code),
): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.warn?.(`${signal} received again: exiting now`, 'Shutdown');
      exit(1);
      return;
    }
    closing = true;
    const deadlineMs = graceMs + SHUTDOWN_MARGIN_MS;
    logger.log(
      `${signal} received: stopping (grace ${graceMs} ms, hard limit ${deadlineMs} ms)`,
      'Shutdown',
    );
    const server = (app as { getHttpServer?: () => Server }).getHttpServer?.();
    server?.close();
    // Idle keep-alive sockets would hold server.close() (and Nest's close) open.
    server?.closeIdleConnections();
    const force = setTimeout(() => {
      logger.error(
        `Shutdown did not finish within ${deadlineMs} ms: forcing exit (still pending: ${pendingResources()})`,
        undefined,
        'Shutdown',
      );
      exit(1);
    }, deadlineMs);
    force.unref();
    app.close().then(
      () => {
        clearTimeout(force);
        logger.log('Stopped cleanly', 'Shutdown');
        exit(0);
      },
      (err: unknown) => {
        clearTimeout(force);
        logger.error(`Shutdown failed: ${String(err)}`, undefined, 'Shutdown');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
