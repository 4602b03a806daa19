import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { AppConfig } from './app-config';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { envSchema, loadDotEnv, parseEnv } from './env.schema';

describe('env schema', () => {
  it('has working defaults for a bare machine (embedded mode)', () => {
    const env = parseEnv({});
    expect(env.PORT).toBe(5000);
    expect(env.APP_ROLES).toEqual(['api', 'worker']);
    expect(env.DATABASE_URL).toBeUndefined();
    const secrets = { JWT_SECRET: 'a'.repeat(40), ENCRYPTION_KEY: 'b'.repeat(40) };
    expect(new AppConfig({ ...env, ...secrets }).mode).toBe('embedded');
  });

  it('puts models under STORAGE_DIR unless MODELS_DIR is set, with download defaults', () => {
    const secrets = { JWT_SECRET: 'a'.repeat(40), ENCRYPTION_KEY: 'b'.repeat(40) };
    const env = parseEnv({ STORAGE_DIR: '/data/store', MODELS_DIR: '' });
    expect(new AppConfig({ ...env, ...secrets }).modelsDir).toBe(
      path.resolve('/data/store/models'),
    );
    expect(env.DOWNLOAD_PART_MIN_BYTES).toBe(64 * 1024 * 1024);
    expect(env.DOWNLOAD_MAX_PARTS).toBe(8);
    const custom = parseEnv({ MODELS_DIR: '/mnt/models', DOWNLOAD_MAX_CONNECTIONS: '4' });
    expect(new AppConfig({ ...custom, ...secrets }).modelsDir).toBe(path.resolve('/mnt/models'));
    expect(custom.DOWNLOAD_MAX_CONNECTIONS).toBe(4);
  });

  it('parses typed values', () => {
    const env = parseEnv({
      PORT: '8080',
      APP_ROLES: 'worker, api ,api',
      CORS_ORIGINS: 'http://a.test, http://b.test',
      DATABASE_URL: 'postgres://u@h:5432/db',
      REDIS_URL: 'redis://h:6379',
      SWAGGER_ENABLED: 'false',
      JWT_SECRET: 'a'.repeat(40),
      ENCRYPTION_KEY: 'b'.repeat(40),
    });
    expect(env.PORT).toBe(8080);
    expect(env.APP_ROLES).toEqual(['worker', 'api']);
    expect(env.CORS_ORIGINS).toEqual(['http://a.test', 'http://b.test']);
    expect(env.SWAGGER_ENABLED).toBe(false);
    expect(new AppConfig(env).mode).toBe('scale');
  });

  it('keeps request bodies small by default, with room for routes that opt in', () => {
    const env = parseEnv({});
    expect(env.BODY_LIMIT).toBe('1mb');
    expect(env.BODY_LIMIT_LARGE).toBe('10mb');
    expect([env.JSON_MAX_DEPTH, env.JSON_MAX_KEYS_PER_OBJECT, env.JSON_MAX_ITEMS]).toEqual([
      32, 1000, 20_000,
    ]);
    expect(env.JSON_MAX_STRING_LENGTH).toBe(1024 * 1024);
    expect(() => parseEnv({ BODY_LIMIT_LARGE: 'huge' })).toThrow(/BODY_LIMIT_LARGE/);
    expect(() => parseEnv({ JSON_MAX_DEPTH: '1' })).toThrow(/JSON_MAX_DEPTH/);
  });

  it('treats empty strings as unset for optional URLs', () => {
    expect(parseEnv({ DATABASE_URL: '', REDIS_URL: '' }).DATABASE_URL).toBeUndefined();
  });

  it('trusts a proxy by hop count or address, never every hop', () => {
    const trust = (v?: string) => parseEnv(v === undefined ? {} : { TRUST_PROXY: v }).TRUST_PROXY;
    expect(trust()).toBe(false);
    expect(trust('false')).toBe(false);
    expect(trust('true')).toBe(1);
    expect(trust('1')).toBe(1);
    expect(trust('2')).toBe(2);
    expect(trust('10.0.0.0/8, loopback,fd00::/8,192.168.1.7')).toEqual([
      '10.0.0.0/8',
      'loopback',
      'fd00::/8',
      '192.168.1.7',
    ]);
    for (const bad of ['11', '10.0.0.0/33', 'proxy.example.com', '10.0.0.0/8/1', 'all']) {
      expect(() => trust(bad)).toThrow(/TRUST_PROXY: /);
    }
  });

  it('stops with one message naming every bad variable', () => {
    let message = '';
    try {
      parseEnv({ PORT: 'eighty', DATABASE_URL: 'mysql://x', APP_ROLES: 'api,cook' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^Invalid configuration: /);
    expect(message).toContain('PORT: must be an integer between 0 and 65535');
    expect(message).toContain('DATABASE_URL: must be a postgres:// URL');
    expect(message).toContain('APP_ROLES: roles are api and/or worker');
  });

  it('has no default secrets and refuses the published placeholders everywhere', () => {
    const env = parseEnv({});
    expect(env.JWT_SECRET).toBeUndefined();
    expect(env.ENCRYPTION_KEY).toBeUndefined();
    for (const NODE_ENV of ['development', 'production', 'test']) {
      expect(() =>
        parseEnv({
          NODE_ENV,
          JWT_SECRET: 'change-me-jwt-secret-at-least-32-characters',
          ENCRYPTION_KEY: 'change-me-encryption-key-32-bytes-min',
        }),
      ).toThrow(
        /JWT_SECRET: is a published placeholder.*ENCRYPTION_KEY: is a published placeholder/,
      );
    }
    expect(() => parseEnv({ JWT_SECRET: 'short' })).toThrow(/JWT_SECRET: at least 16 characters/);
    // A former default key may still be listed for decrypting old rows.
    expect(
      parseEnv({ ENCRYPTION_KEYS_PREVIOUS: 'change-me-encryption-key-32-bytes-min' })
        .ENCRYPTION_KEYS_PREVIOUS,
    ).toEqual(['change-me-encryption-key-32-bytes-min']);
  });

  it('refuses scale mode (DATABASE_URL or REDIS_URL) without configured secrets', () => {
    for (const shared of [
      { DATABASE_URL: 'postgres://u@h:5432/db' },
      { REDIS_URL: 'redis://h:6379' },
    ]) {
      // parseEnv alone accepts it (the migration CLI needs no secrets); the app's config refuses.
      const env = parseEnv(shared);
      expect(() => new AppConfig(env)).toThrow(
        /^Invalid configuration: JWT_SECRET: is required when DATABASE_URL or REDIS_URL is set.*; ENCRYPTION_KEY: is required/,
      );
      expect(() => new AppConfig(parseEnv({ ...shared, JWT_SECRET: 'a'.repeat(40) }))).toThrow(
        /^Invalid configuration: ENCRYPTION_KEY: is required/,
      );
      expect(
        new AppConfig(
          parseEnv({ ...shared, JWT_SECRET: 'a'.repeat(40), ENCRYPTION_KEY: 'b'.repeat(40) }),
        ).env.JWT_SECRET,
      ).toBe('a'.repeat(40));
    }
  });

  it('refuses a worker-only process without Redis', () => {
    expect(() => parseEnv({ APP_ROLES: 'worker' })).toThrow(
      /APP_ROLES: a worker-only process needs REDIS_URL/,
    );
    expect(() =>
      parseEnv({ APP_ROLES: 'worker', REDIS_URL: 'redis://127.0.0.1:6379' }),
    ).not.toThrow();
  });

  it('is mirrored by .env.example: same variables, same defaults', () => {
    const file = readFileSync(path.resolve(__dirname, '../../../.env.example'), 'utf8');
    const example: Record<string, string> = {};
    for (const line of file.split('\n')) {
      const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
      if (m) example[m[1]] = m[2];
    }
    const keys = Object.keys(envSchema.shape).sort();
    expect(Object.keys(example).sort()).toEqual(keys);
    // Parsing the example gives exactly the defaults.
    expect(parseEnv(example)).toEqual(parseEnv({}));
  });

  it('loads .env without overriding the environment, and tolerates its absence', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'llmops-env-'));
    const file = path.join(dir, '.env');
    writeFileSync(file, 'LLMOPS_TEST_FROM_FILE=file\nLLMOPS_TEST_BOTH=file\n');
    process.env.LLMOPS_TEST_BOTH = 'environment';
    try {
      loadDotEnv(file);
      expect(process.env.LLMOPS_TEST_FROM_FILE).toBe('file');
      expect(process.env.LLMOPS_TEST_BOTH).toBe('environment');
      expect(() => loadDotEnv(path.join(dir, 'missing.env'))).not.toThrow();
    } finally {
      delete process.env.LLMOPS_TEST_FROM_FILE;
      delete process.env.LLMOPS_TEST_BOTH;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
