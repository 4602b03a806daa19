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

  const newClient = (url: string) =>
    new Redis(url, {
      lazyConnect: true,
      connectTimeout: 1_000,
      maxRetriesPerRequest: 1,
      retryStrategy: () => 50,
    });

  it('rides out failed first attempts and resolves once Redis answers', async () => {
    server = await TestRedisServer.notStarted();
    client = newClient(server.url);
    client.on('error', () => undefined);
    let attempts = 0;
    client.on('connecting', () => attempts++);
    const connected = connectRedis(client, 'test', 10_000);
    // ioredis' own connect() gives up on the first refused attempt; this one must not.
    await new Promise((r) => setTimeout(r, 300));
    await server.restart();
    await connected;
    expect(attempts).toBeGreaterThan(1);
    expect(client.status).toBe('ready');
    expect(await client.ping()).toBe('PONG');
  });

  it('gives up after its deadline with the last error, and stops reconnecting', async () => {
    server = await TestRedisServer.notStarted();
    client = newClient(server.url);
    client.on('error', () => undefined);
    let attempts = 0;
    client.on('connecting', () => attempts++);
    const started = Date.now();
    await expect(connectRedis(client, 'test', 400)).rejects.toThrow(
      /^Redis \(test\) did not answer within 400 ms: connect ECONNREFUSED/,
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    const attemptsAtDeadline = attempts;
    expect(attemptsAtDeadline).toBeGreaterThan(1);
    await new Promise((r) => setTimeout(r, 300)); // the retry interval is 50 ms
    expect(attempts).toBe(attemptsAtDeadline);
  });
});
