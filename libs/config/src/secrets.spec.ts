import { Logger } from '@nestjs/common';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { AppConfig } from './app-config';
import { ConfigValidationError, parseEnv } from './env.schema';
import { resolveSecrets, SECRETS_FILE } from './secrets';

describe('secrets', () => {
  let dir: string;
  let logger: Logger;
  let warn: jest.SpyInstance;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'llmops-secrets-'));
    logger = new Logger('test');
    warn = jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('embedded mode generates random secrets once into a 0600 file and reuses them', () => {
    const storage = path.join(dir, 'nested', 'storage');
    const first = resolveSecrets(parseEnv({ STORAGE_DIR: storage }), logger);
    const file = path.join(storage, SECRETS_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(first.JWT_SECRET).toMatch(/^[0-9a-f]{64}$/);
    expect(first.ENCRYPTION_KEY).toMatch(/^[0-9a-f]{64}$/);
    expect(first.JWT_SECRET).not.toBe(first.ENCRYPTION_KEY);
    // Logged once, without the values.
    expect(warn).toHaveBeenCalledTimes(1);
    const logged = String(warn.mock.calls[0][0]);
    expect(logged).toContain(file);
    expect(logged).not.toContain(first.JWT_SECRET);
    expect(logged).not.toContain(first.ENCRYPTION_KEY);

    const again = resolveSecrets(parseEnv({ STORAGE_DIR: storage }), logger);
    expect(again.JWT_SECRET).toBe(first.JWT_SECRET);
    expect(again.ENCRYPTION_KEY).toBe(first.ENCRYPTION_KEY);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(new AppConfig(parseEnv({ STORAGE_DIR: storage })).env.JWT_SECRET).toBe(first.JWT_SECRET);
    // No temp files left behind.
    expect(readdirSync(storage)).toEqual([SECRETS_FILE]);
    expect(readFileSync(file, 'utf8')).toContain(first.JWT_SECRET);
  });

  it('another directory gets other secrets; configured values win and write nothing', () => {
    const a = resolveSecrets(parseEnv({ STORAGE_DIR: path.join(dir, 'a') }), logger);
    const b = resolveSecrets(parseEnv({ STORAGE_DIR: path.join(dir, 'b') }), logger);
    expect(a.JWT_SECRET).not.toBe(b.JWT_SECRET);
    const own = resolveSecrets(
      parseEnv({
        STORAGE_DIR: path.join(dir, 'c'),
        JWT_SECRET: 'j'.repeat(32),
        ENCRYPTION_KEY: 'k'.repeat(32),
      }),
      logger,
    );
    expect(own.JWT_SECRET).toBe('j'.repeat(32));
    expect(() => statSync(path.join(dir, 'c'))).toThrow();
  });

  it('refuses scale mode without secrets, even for an Env built by hand', () => {
    const env = { ...parseEnv({ STORAGE_DIR: dir }), DATABASE_URL: 'postgres://u@h/db' };
    expect(() => resolveSecrets(env, logger)).toThrow(ConfigValidationError);
    expect(() => new AppConfig(env)).toThrow(
      /JWT_SECRET: is required when DATABASE_URL or REDIS_URL is set/,
    );
  });

  it('refuses a damaged secrets file instead of silently replacing it', () => {
    writeFileSync(path.join(dir, SECRETS_FILE), '{"JWT_SECRET": "x"}');
    expect(() => resolveSecrets(parseEnv({ STORAGE_DIR: dir }), logger)).toThrow(/is damaged/);
  });
});
