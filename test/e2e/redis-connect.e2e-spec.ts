import { connectRedis } from '@app/common/redis.module';
import { TestRedisServer } from '@test/support/redis-server';
import { Redis } from 'ioredis';

/** The service's start-up connection: attempts that fail are retried until a deadline. */
describe('connectRedis', () => {
  let server: TestRedisServer | undefined;
  let client: Redis | undefined;
  afterEach(async () => {
    if (client?.status === 'ready') await client.quit();
    else client?.disconnect();
    await server?.kill();
    client = server = undefined;
  });

  /** A client of a Redis not started yet (retrying every 50 ms), counting its attempts. */
  const clientOfNothing = async () => {
    server = await TestRedisServer.notStarted();
    const c = new Redis(server.url, {
      lazyConnect: true,
      connectTimeout: 1_000,
      maxRetriesPerRequest: 1,
      retryStrategy: () => 50,
    });
    client = c;
    c.on('error', () => undefined);
    const counted = { attempts: 0 };
    c.on('connecting', () => counted.attempts++);
    return { c, counted, server };
  };

  it('rides out failed first attempts and resolves once Redis answers', async () => {
    const { c, counted, server: redis } = await clientOfNothing();
    const connected = connectRedis(c, 'test', 10_000);
    // ioredis' own connect() gives up on the first refused attempt; this one must not.
    await new Promise((r) => setTimeout(r, 300));
    await redis.restart();
    await connected;
    expect(counted.attempts).toBeGreaterThan(1);
    expect(c.status).toBe('ready');
    expect(await c.ping()).toBe('PONG');
  });

  it('gives up after its deadline with the last error, and stops reconnecting', async () => {
    const { c, counted } = await clientOfNothing();
    const started = Date.now();
    await expect(connectRedis(c, 'test', 400)).rejects.toThrow(
      /^Redis \(test\) did not answer within 400 ms: connect ECONNREFUSED/,
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    const attemptsAtDeadline = counted.attempts;
    expect(attemptsAtDeadline).toBeGreaterThan(1);
    await new Promise((r) => setTimeout(r, 300)); // the retry interval is 50 ms
    expect(counted.attempts).toBe(attemptsAtDeadline);
  });
});
