import { apiFamilyOf, SUCCESS_MESSAGE_KEY } from '@app/common';
import { RequestMethod } from '@nestjs/common';
import { HTTP_CODE_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { FixtureModule } from '@test/support/fixture.module';

/**
 * The original console treats any non-200 as a transport failure, so every console POST must
 * declare HTTP 200, and the console toasts every POST's `message`, so each needs a short non-empty
 * one: ConsolePost(path, message) declares both. This walks every route of the real app, so a
 * route added later without them fails here.
 */
describe('route conventions', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ imports: [FixtureModule] });
  });
  afterAll(() => t.close());

  it('every console POST answers HTTP 200 and has a success message for the toast', () => {
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
          offenders.push(`${wrapper.name}.${name} POST ${path}: not HTTP 200`);
        // The console toasts `message` after every successful POST; empty shows a blank toast.
        const message: unknown = Reflect.getMetadata(SUCCESS_MESSAGE_KEY, handler);
        if (typeof message !== 'string' || !message.trim())
          offenders.push(`${wrapper.name}.${name} POST ${path}: no success message`);
      }
    }
    expect(posts).toBeGreaterThan(0);
    expect(offenders).toEqual([]);
  });
});
