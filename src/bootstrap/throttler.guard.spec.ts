import { Controller, Get, type INestApplication, type Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import {
  SkipThrottle,
  Throttle,
  ThrottlerGuard,
  ThrottlerModule,
  type ThrottlerModuleOptions,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import request from 'supertest';
import { AppThrottlerGuard } from './throttler.guard';
import { MemoryThrottlerStorage, throttlerKey } from './throttler.storage';

@Controller()
class RoutesController {
  @Get('plain')
  plain() {
    return 'ok';
  }

  @Throttle({ default: { limit: 1, ttl: 60_000 } })
  @Get('strict')
  strict() {
    return 'ok';
  }

  @SkipThrottle()
  @Get('skipped')
  skipped() {
    return 'ok';
  }

  // A per-request value: the library's own path resolves it.
  @Throttle({ default: { limit: () => 2, ttl: 60_000 } })
  @Get('dynamic')
  dynamic() {
    return 'ok';
  }
}

@SkipThrottle({ burst: true })
@Controller('quiet')
class QuietController {
  @Get()
  get() {
    return 'ok';
  }
}

/** The same counts as the memory storage, but only through `increment` (a promise per hit). */
class AsyncOnlyStorage implements ThrottlerStorage {
  private readonly inner = new MemoryThrottlerStorage();
  increment(...args: Parameters<ThrottlerStorage['increment']>) {
    return this.inner.increment(...args);
  }
}

const options = (storage: ThrottlerStorage, extra: Partial<ThrottlerModuleOptions> = {}) =>
  ({
    throttlers: [
      { name: 'default', ttl: 60_000, limit: 3 },
      { name: 'burst', ttl: 60_000, limit: 4, blockDuration: 5_000 },
    ],
    storage,
    errorMessage: 'Too many requests',
    generateKey: throttlerKey,
    ...extra,
  }) as ThrottlerModuleOptions;

async function appWith(guard: Type, opts: ThrottlerModuleOptions): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [ThrottlerModule.forRoot(opts)],
    controllers: [RoutesController, QuietController],
    providers: [{ provide: APP_GUARD, useClass: guard }],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

const HEADERS = [
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  'x-ratelimit-limit-burst',
  'x-ratelimit-remaining-burst',
  'x-ratelimit-reset-burst',
  'retry-after',
  'retry-after-burst',
];

/** Status and rate-limit headers of each request of a fixed sequence over every route. */
async function trace(app: INestApplication): Promise<string[]> {
  const out: string[] = [];
  const paths = ['/plain', '/strict', '/skipped', '/dynamic', '/quiet'];
  for (let round = 0; round < 6; round++) {
    for (const path of paths) {
      const res = await request(app.getHttpServer()).get(path);
      const headers = HEADERS.filter((h) => res.headers[h] !== undefined).map(
        (h) => `${h}=${String(res.headers[h])}`,
      );
      out.push(`${path} ${res.status} ${headers.join(' ')}`);
    }
  }
  return out;
}

describe('AppThrottlerGuard', () => {
  const apps: INestApplication[] = [];
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
  });
  const start = async (guard: Type, opts: ThrottlerModuleOptions) => {
    const app = await appWith(guard, opts);
    apps.push(app);
    return app;
  };

  it.each([
    ['a storage that counts in memory', () => new MemoryThrottlerStorage()],
    ['a storage that only answers with a promise', () => new AsyncOnlyStorage()],
  ])(
    'answers every request as the library guard does, with %s',
    async (_label, storage: () => ThrottlerStorage) => {
      const ours = await trace(await start(AppThrottlerGuard, options(storage())));
      const library = await trace(await start(ThrottlerGuard, options(storage())));
      // Seconds left in a window may tick between the two runs: compared as present, not equal.
      const mask = (lines: string[]) =>
        lines.map((l) => l.replace(/((?:reset|retry-after)(?:-burst)?)=\d+/g, '$1=~'));
      expect(mask(ours)).toEqual(mask(library));
      // The trace covers what it claims: limits per route, skips, named headers, blocks.
      expect(ours).toContain(
        '/plain 200 ' +
          [
            'x-ratelimit-limit=3',
            'x-ratelimit-remaining=2',
            'x-ratelimit-reset=60',
            'x-ratelimit-limit-burst=4',
            'x-ratelimit-remaining-burst=3',
            'x-ratelimit-reset-burst=60',
          ].join(' '),
      );
      expect(ours.filter((l) => l.startsWith('/strict 429'))).toHaveLength(5);
      expect(ours.filter((l) => l.startsWith('/plain 429'))[0]).toMatch(/retry-after=(59|60)$/);
      expect(ours.filter((l) => l.startsWith('/dynamic 429'))).toHaveLength(4);
      expect(ours.filter((l) => l.startsWith('/skipped'))).toEqual(
        expect.arrayContaining([expect.stringMatching(/^\/skipped 429 .*retry-after-burst=5$/)]),
      );
      expect(ours.every((l) => !l.startsWith('/quiet') || !l.includes('burst'))).toBe(true);
    },
  );

  it('counts a hit the storage holds in memory without its promise-returning increment', async () => {
    const storage = new MemoryThrottlerStorage();
    const now = jest.spyOn(storage, 'incrementNow');
    const viaPromise = jest.spyOn(storage, 'increment');
    const app = await start(AppThrottlerGuard, options(storage));
    expect((await request(app.getHttpServer()).get('/plain')).status).toBe(200);
    expect(now).toHaveBeenCalledTimes(2); // default and burst
    expect(viaPromise).not.toHaveBeenCalled();
  });

  it('keeps a custom tracker from the module options', async () => {
    const storage = new MemoryThrottlerStorage();
    const increment = jest.spyOn(storage, 'incrementNow');
    const app = await start(
      AppThrottlerGuard,
      options(storage, {
        getTracker: (req: Record<string, any>) => String(req.headers['x-client'] ?? 'anonymous'),
      }),
    );
    const get = (client: string) =>
      request(app.getHttpServer()).get('/strict').set('x-client', client);
    expect((await get('a')).status).toBe(200);
    expect((await get('b')).status).toBe(200);
    expect((await get('a')).status).toBe(429);
    expect(increment.mock.calls.map((c) => c[0])).toEqual(
      expect.arrayContaining([
        'RoutesController.strict:default:a',
        'RoutesController.strict:default:b',
      ]),
    );
  });
});
