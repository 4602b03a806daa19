import { apiFamilyOf } from '@app/common';
import { RequestMethod } from '@nestjs/common';
import { HTTP_CODE_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { FixtureModule } from '@test/support/fixture.module';

/**
 * The original console treats any non-200 as a transport failure, so every console POST must
 * declare HTTP 200 (ConsolePost or @HttpCode(200)). This walks every route of the real app, so a
 * route added later without it fails here.
 */
describe('route conventions', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ imports: [FixtureModule] });
  });
  afterAll(() => t.close());

  it('every console POST answers HTTP 200', () => {
    const discovery = t.app.get(DiscoveryService);
    const scanner = t.app.get(MetadataScanner);
    const offenders: string[] = [];
    let posts = 0;
    for (const wrapper of discovery.getControllers()) {
      const proto = (wrapper.metatype as { prototype?: object } | undefined)?.prototype;
      if (!proto) continue;
      const base = String(Reflect.getMetadata(PATH_METADATA, wrapper.metatype as object) ?? '');
      for (const name of scanner.getAllMethodNames(proto)) {
        const handler = (proto as Record<string, unknown>)[name] as object;
        if (Reflect.getMetadata(METHOD_METADATA, handler) !== RequestMethod.POST) continue;
        const sub = String(Reflect.getMetadata(PATH_METADATA, handler) ?? '');
        const path = `/${[base, sub].filter(Boolean).join('/')}`.replace(/\/+/g, '/');
        if (apiFamilyOf(path) !== 'console') continue;
        posts += 1;
        if (Reflect.getMetadata(HTTP_CODE_METADATA, handler) !== 200)
          offenders.push(`${wrapper.name}.${name} POST ${path}`);
      }
    }
    expect(posts).toBeGreaterThan(0);
    expect(offenders).toEqual([]);
  });
});
