import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ConfigValidationError, type Env, isKnownWeakSecret } from './env.schema';

/** The environment once JWT_SECRET and ENCRYPTION_KEY are known (configured or generated). */
export type ResolvedEnv = Omit<Env, 'JWT_SECRET' | 'ENCRYPTION_KEY'> & {
  JWT_SECRET: string;
  ENCRYPTION_KEY: string;
};

/** Where embedded mode keeps the secrets it generated, under STORAGE_DIR. */
export const SECRETS_FILE = 'secrets.json';

interface SecretsFile {
  JWT_SECRET: string;
  ENCRYPTION_KEY: string;
}

/**
 * Fills in JWT_SECRET and ENCRYPTION_KEY. Configured values win. Scale mode (DATABASE_URL or
 * REDIS_URL) needs them configured, since every process must agree; this check lives here rather
 * than in parseEnv so tools that never sign or seal (the migration CLI) run without them. Embedded mode generates
 * random ones on first boot into STORAGE_DIR/secrets.json (0600) and reuses them afterwards, so
 * tokens and sealed credentials survive restarts without a secret anyone else knows.
 */
export function resolveSecrets(env: Env, logger = new Logger('Config')): ResolvedEnv {
  const { JWT_SECRET, ENCRYPTION_KEY } = env;
  if (JWT_SECRET && ENCRYPTION_KEY) return { ...env, JWT_SECRET, ENCRYPTION_KEY };
  if (env.DATABASE_URL || env.REDIS_URL) {
    const missing = (['JWT_SECRET', 'ENCRYPTION_KEY'] as const).filter((k) => !env[k]);
    throw new ConfigValidationError(
      `Invalid configuration: ${missing
        .map(
          (k) =>
            `${k}: is required when DATABASE_URL or REDIS_URL is set (scale mode: every process must share it); generate one with \`openssl rand -hex 32\``,
        )
        .join('; ')}`,
    );
  }
  const stored = loadOrCreateSecrets(path.resolve(env.STORAGE_DIR), logger);
  return {
    ...env,
    JWT_SECRET: JWT_SECRET ?? stored.JWT_SECRET,
    ENCRYPTION_KEY: ENCRYPTION_KEY ?? stored.ENCRYPTION_KEY,
  };
}

function loadOrCreateSecrets(dir: string, logger: Logger): SecretsFile {
  const file = path.join(dir, SECRETS_FILE);
  const existing = readSecrets(file);
  if (existing) return existing;
  mkdirSync(dir, { recursive: true });
  const fresh: SecretsFile = {
    JWT_SECRET: randomBytes(32).toString('hex'),
    ENCRYPTION_KEY: randomBytes(32).toString('hex'),
  };
  // Written whole to a private temp file, then linked into place: link() fails when another
  // process won the race, and then everyone uses the winner's file.
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(fresh, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return readSecrets(file) ?? fresh;
  } finally {
    rmSync(tmp, { force: true });
  }
  logger.warn(
    `Generated JWT_SECRET and ENCRYPTION_KEY into ${file} (mode 0600); keep this file with the data, ` +
      'or set both variables yourself (required when DATABASE_URL or REDIS_URL is set)',
  );
  return fresh;
}

function readSecrets(file: string): SecretsFile | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let parsed: Partial<SecretsFile> = {};
  try {
    parsed = JSON.parse(text) as Partial<SecretsFile>;
  } catch {
    /* reported below */
  }
  const ok = (v: unknown): v is string =>
    typeof v === 'string' && v.length >= 32 && !isKnownWeakSecret(v);
  if (!ok(parsed.JWT_SECRET) || !ok(parsed.ENCRYPTION_KEY)) {
    throw new ConfigValidationError(
      `Invalid configuration: ${file} is damaged (it must hold JWT_SECRET and ENCRYPTION_KEY); restore it from a backup or set both variables`,
    );
  }
  return { JWT_SECRET: parsed.JWT_SECRET, ENCRYPTION_KEY: parsed.ENCRYPTION_KEY };
}
