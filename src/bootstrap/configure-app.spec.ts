import type { AppConfig } from '@app/config';
import { originMatcher } from './configure-app';

const config = (corsOrigins: string[], nodeEnv: 'development' | 'production' | 'test') =>
  ({
    env: { CORS_ORIGINS: corsOrigins, NODE_ENV: nodeEnv },
    isProduction: nodeEnv === 'production',
  }) as unknown as AppConfig;

describe('originMatcher', () => {
  const loopback = [
    'http://localhost:5173',
    'http://127.0.0.1:3000',
    'http://[::1]:8080',
    'https://localhost',
  ];

  it('allows loopback origins on any port when none are configured, outside production', () => {
    const allowed = originMatcher(config([], 'development'));
    for (const origin of loopback) expect(allowed(origin)).toBe(true);
    for (const origin of [
      'http://evil.test',
      'http://localhost.evil.test',
      'http://127.0.0.1.nip.io',
      'file://localhost',
      'null',
    ])
      expect(allowed(origin)).toBe(false);
  });

  it('allows only configured origins in production, and loopback only when listed', () => {
    const none = originMatcher(config([], 'production'));
    for (const origin of loopback) expect(none(origin)).toBe(false);
    const listed = originMatcher(config(['https://console.example.com/'], 'production'));
    expect(listed('https://console.example.com')).toBe(true);
    expect(listed('http://localhost:5173')).toBe(false);
  });

  it('does not add loopback origins once origins are configured', () => {
    const allowed = originMatcher(config(['http://console.test'], 'development'));
    expect(allowed('http://console.test')).toBe(true);
    expect(allowed('http://localhost:5173')).toBe(false);
  });

  it('reflects any origin for *, and lets requests without an Origin through', () => {
    const any = originMatcher(config(['*'], 'production'));
    expect(any('http://anything.test')).toBe(true);
    expect(originMatcher(config([], 'production'))(undefined)).toBe(true);
  });
});
