import type { INestApplicationContext } from '@nestjs/common';
import { installGracefulShutdown, SHUTDOWN_MARGIN_MS } from './shutdown';

/** Installs the handler on this process, and removes what it added afterwards. */
function install(close: () => Promise<void>, graceMs: number) {
  const before = new Set(process.listeners('SIGTERM'));
  const beforeInt = new Set(process.listeners('SIGINT'));
  const exit = jest.fn<void, [number]>();
  const logger = { log: jest.fn(), warn: jest.fn(), error: jest.fn() };
  const app = { close } as unknown as INestApplicationContext;
  installGracefulShutdown(app, logger, graceMs, exit);
  const cleanup = () => {
    for (const l of process.listeners('SIGTERM')) if (!before.has(l)) process.off('SIGTERM', l);
    for (const l of process.listeners('SIGINT')) if (!beforeInt.has(l)) process.off('SIGINT', l);
  };
  return { exit, logger, cleanup };
}

describe('installGracefulShutdown', () => {
  let cleanup: () => void = () => undefined;
  afterEach(() => {
    cleanup();
    jest.useRealTimers();
  });

  it('exits 0 as soon as the hooks finish', async () => {
    const h = install(() => Promise.resolve(), 10_000);
    cleanup = h.cleanup;
    process.emit('SIGTERM', 'SIGTERM');
    await new Promise((r) => setImmediate(r));
    expect(h.exit).toHaveBeenCalledWith(0);
  });

  it('exits 1 at grace + margin when a hook hangs (an unreachable Redis), naming what is pending', async () => {
    jest.useFakeTimers();
    const h = install(() => new Promise<void>(() => undefined), 2_000);
    cleanup = h.cleanup;
    process.emit('SIGTERM', 'SIGTERM');
    await jest.advanceTimersByTimeAsync(2_000 + SHUTDOWN_MARGIN_MS - 1);
    expect(h.exit).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1);
    expect(h.exit).toHaveBeenCalledWith(1);
    expect(h.logger.error.mock.calls[0][0]).toMatch(
      new RegExp(`did not finish within ${2_000 + SHUTDOWN_MARGIN_MS} ms.*still pending: `),
    );
  });

  it('exits at once on a second signal', () => {
    const h = install(() => new Promise<void>(() => undefined), 10_000);
    cleanup = h.cleanup;
    process.emit('SIGTERM', 'SIGTERM');
    process.emit('SIGINT', 'SIGINT');
    expect(h.exit).toHaveBeenCalledWith(1);
  });
});
