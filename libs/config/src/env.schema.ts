import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseEnv as parseEnvFile } from 'node:util';
import { z } from 'zod';

/** A comma-separated list; empty entries dropped. */
const csv = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** An IP address, or a CIDR subnet (`10.0.0.0/8`, `fd00::/8`). */
function isAddressOrSubnet(v: string): boolean {
  const [ip, bits, ...rest] = v.split('/');
  const family = isIP(ip);
  if (!family || rest.length) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * Which proxies may set the client address (X-Forwarded-For, -Proto), as Express's `trust proxy`:
 * false; true (= 1, the one proxy in front of us); a hop count; or the proxies' addresses,
 * subnets or names (loopback, linklocal, uniquelocal). Never "every hop": then a client picks its
 * own IP by sending X-Forwarded-For, and every per-IP limit is void.
 */
const trustProxy = z
  .string()
  .default('false')
  .transform((raw, ctx): false | number | string[] => {
    const v = raw.trim().toLowerCase();
    if (['', 'false', '0', 'no'].includes(v)) return false;
    if (v === 'true' || v === 'yes') return 1;
    if (/^\d+$/.test(v)) {
      if (Number(v) <= 10) return Number(v);
      ctx.addIssue({ code: 'custom', message: 'a hop count must be between 0 and 10' });
      return z.NEVER;
    }
    const list = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = list.filter((s) => !PROXY_NAMES.has(s) && !isAddressOrSubnet(s));
    if (bad.length) {
      ctx.addIssue({
        code: 'custom',
        message: `must be true, false, a hop count, or proxy addresses, subnets or loopback/linklocal/uniquelocal (not: ${bad.join(', ')})`,
      });
      return z.NEVER;
    }
    return list;
  });

/** Unset and empty both mean "not configured". */
const optionalString = z
  .string()
  .optional()
  .transform((v) => v || undefined);

const int = (def: number, min: number, max: number) =>
  z.coerce
    .number({ error: `must be an integer between ${min} and ${max}` })
    .int({ error: `must be an integer between ${min} and ${max}` })
    .min(min, { error: `must be an integer between ${min} and ${max}` })
    .max(max, { error: `must be an integer between ${min} and ${max}` })
    .default(def);

/** An http(s) URL with a default, without a trailing slash. */
const httpUrl = (def: string) =>
  z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .default(def)
    .transform((v) => v.replace(/\/+$/, ''));

/**
 * Secrets that were once shipped as defaults (and any `change-me...` placeholder): whoever read
 * the repository knows them, so they are refused wherever they are configured.
 */
export const KNOWN_WEAK_SECRETS: readonly string[] = [
  'change-me-jwt-secret-at-least-32-characters',
  'change-me-encryption-key-32-bytes-min',
];

export function isKnownWeakSecret(value: string): boolean {
  return KNOWN_WEAK_SECRETS.includes(value) || /^change[-_ ]?me/i.test(value);
}

/** Unset or empty = not configured (embedded mode then generates one under STORAGE_DIR). */
const secret = z
  .string()
  .optional()
  .transform((v) => v || undefined)
  .pipe(
    z
      .string()
      .min(16, 'at least 16 characters')
      .refine((v) => !isKnownWeakSecret(v), {
        error: 'is a published placeholder; generate your own (openssl rand -hex 32)',
      })
      .optional(),
  );

/**
 * Every environment variable the service reads, with its default. `.env.example` mirrors this
 * list; `test/unit`'s env-example spec fails when the two drift.
 */
export const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    HOST: z.string().min(1).default('0.0.0.0'),
    PORT: int(5000, 0, 65535),
    APP_ROLES: csv
      .pipe(z.array(z.enum(['api', 'worker'], { error: 'roles are api and/or worker' })))
      .transform((r) => (r.length ? [...new Set(r)] : (['api', 'worker'] as const))),
    STORAGE_DIR: z.string().min(1).default('./storage'),
    DATABASE_URL: z
      .string()
      .optional()
      .transform((v) => v || undefined)
      .pipe(z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' }).optional()),
    DATABASE_POOL_MAX: int(10, 1, 200),
    // Longest a statement may run (or wait for a lock) on PostgreSQL; 0 = no limit. Migrations run
    // without it.
    DATABASE_STATEMENT_TIMEOUT_MS: int(60_000, 0, 3_600_000),
    DATABASE_RUN_MIGRATIONS: bool.default(true),
    REDIS_URL: z
      .string()
      .optional()
      .transform((v) => v || undefined)
      .pipe(z.url({ protocol: /^rediss?$/, error: 'must be a redis:// URL' }).optional()),
    REDIS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _.:- only')
      .default('llmops'),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
    CORS_ORIGINS: csv,
    BODY_LIMIT: z
      .string()
      .regex(/^\d+(b|kb|mb)$/i, 'a size such as 512kb or 10mb')
      .default('1mb'),
    // Request shape, checked before validation (huge or deep bodies cost far more to validate).
    BODY_LIMIT_LARGE: z
      .string()
      .regex(/^\d+(b|kb|mb)$/i, 'a size such as 512kb or 10mb')
      .default('10mb'),
    JSON_MAX_DEPTH: int(32, 2, 1000),
    JSON_MAX_KEYS_PER_OBJECT: int(1000, 1, 1_000_000),
    JSON_MAX_ITEMS: int(20_000, 1, 10_000_000),
    JSON_MAX_STRING_LENGTH: int(1024 * 1024, 1, 1024 * 1024 * 1024),
    THROTTLE_TTL_SECONDS: int(60, 1, 86400),
    THROTTLE_LIMIT: int(600, 1, 1_000_000),
    API_KEY_THROTTLE_LIMIT: int(1200, 0, 1_000_000),
    JWT_SECRET: secret,
    ENCRYPTION_KEY: secret,
    ENCRYPTION_KEYS_PREVIOUS: csv,
    ACCESS_TOKEN_TTL_SECONDS: int(86_400, 60, 30 * 86_400),
    REFRESH_TOKEN_TTL_DAYS: int(30, 1, 365),
    REGISTRATION_ENABLED: bool.default(true),
    ADMIN_EMAILS: csv.transform((list) => list.map((e) => e.toLowerCase())),
    // Setup secret: while no admin exists, registration needs `init_password` equal to it.
    INIT_PASSWORD: optionalString,
    LOGIN_MAX_FAILURES: int(5, 1, 100),
    LOGIN_LOCK_MINUTES: int(15, 1, 24 * 60),
    TRUST_PROXY: trustProxy,
    GITHUB_CLIENT_ID: z.string().default(''),
    GITHUB_CLIENT_SECRET: z.string().default(''),
    GITHUB_REDIRECT_URI: z.string().default('http://localhost:5173/auth/authorize/github'),
    GITHUB_AUTHORIZE_URL: z.url().default('https://github.com/login/oauth/authorize'),
    GITHUB_TOKEN_URL: z.url().default('https://github.com/login/oauth/access_token'),
    GITHUB_API_URL: z.url().default('https://api.github.com'),
    OAUTH_REQUIRE_STATE: bool.default(false),
    // Model providers: server-wide defaults; an account's own credentials take precedence.
    OPENAI_API_KEY: optionalString,
    OPENAI_API_BASE: optionalString,
    OPENAI_ORGANIZATION: optionalString,
    MOONSHOT_API_KEY: optionalString,
    MOONSHOT_API_BASE: optionalString,
    DEEPSEEK_API_KEY: optionalString,
    DEEPSEEK_API_BASE: optionalString,
    DASHSCOPE_API_KEY: optionalString,
    DASHSCOPE_API_BASE: optionalString,
    ANTHROPIC_API_KEY: optionalString,
    ANTHROPIC_API_BASE: optionalString,
    GOOGLE_API_KEY: optionalString,
    GOOGLE_API_BASE: optionalString,
    OLLAMA_BASE_URL: optionalString,
    // Model hub: the Hugging Face endpoint (a mirror may replace it) and a token for gated repos.
    HF_ENDPOINT: z.url().default('https://huggingface.co'),
    HF_TOKEN: optionalString,
    OPENAI_COMPATIBLE_API_BASE: optionalString,
    OPENAI_COMPATIBLE_API_KEY: optionalString,
    MODEL_TIMEOUT_MS: int(120_000, 1000, 3_600_000),
    MODEL_MAX_RETRIES: int(2, 0, 10),
    // Bytes one model answer may have (a stream's whole body, an embeddings batch): a server
    // that sends more fails the call instead of filling memory.
    MODEL_MAX_RESPONSE_BYTES: int(256 * 1024 * 1024, 1024 * 1024, 4 * 1024 * 1024 * 1024),
    EMBEDDING_BATCH_SIZE: int(64, 1, 2048),
    EMBEDDING_CONCURRENCY: int(2, 1, 64),
    EMBEDDING_REQUESTS_PER_MINUTE: int(0, 0, 1_000_000),
    AI_HELPER_MODEL: z
      .string()
      .regex(/^[a-z0-9_]+\/.+$/, 'must be provider/model, e.g. openai/gpt-4o-mini')
      .default('openai/gpt-4o-mini'),
    // Agent chats (debug, web apps, service API, assistant): a turn's wall-clock limit and how
    // many model calls one answer may take (tool loops), as the original's 600 s and 5.
    AGENT_RUN_TIMEOUT_SECONDS: int(600, 1, 86_400),
    AGENT_MAX_ITERATIONS: int(5, 1, 50),
    // Model of the assistant agent on the console's home page (it needs credentials for it).
    ASSISTANT_AGENT_MODEL: z
      .string()
      .regex(/^[a-z0-9_]+\/.+$/, 'must be provider/model, e.g. openai/gpt-4o-mini')
      .default('openai/gpt-4o-mini'),
    OUTBOUND_ALLOW_HOSTS: csv,
    OUTBOUND_TIMEOUT_MS: int(30_000, 100, 3_600_000),
    OUTBOUND_MAX_RESPONSE_BYTES: int(10 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    OUTBOUND_MAX_RETRIES: int(2, 0, 10),
    /** Unset or empty = STORAGE_DIR/models (AppConfig.modelsDir). */
    MODELS_DIR: optionalString,
    DOWNLOAD_MAX_CONNECTIONS: int(16, 1, 256),
    DOWNLOAD_PART_MIN_BYTES: int(64 * 1024 * 1024, 1024, 1024 * 1024 * 1024 * 1024),
    DOWNLOAD_MAX_PARTS: int(8, 1, 64),
    DOWNLOAD_STALL_SECONDS: int(30, 1, 3600),
    /** Download tasks running at once; the others wait pending in order. */
    DOWNLOAD_MAX_TASKS: int(2, 1, 64),
    DATASET_EMBEDDING_MODEL: z
      .string()
      .regex(/^[a-z0-9_]+\/.+$/, 'must be provider/model, e.g. openai/text-embedding-3-small')
      .default('openai/text-embedding-3-small'),
    DATASET_MAX_DOCUMENT_CHARS: int(20_000_000, 1000, 1_000_000_000),
    DATASET_INDEX_CHUNK: int(512, 1, 10_000),
    UPLOAD_MAX_BYTES: int(15 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    // What one account's uploads may occupy in total; 0 = no limit.
    UPLOAD_QUOTA_BYTES: int(10 * 1024 ** 3, 0, 1024 ** 5),
    PUBLIC_BASE_URL: optionalString.pipe(
      z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    ),
    TOOL_TIMEOUT_MS: int(30_000, 100, 600_000),
    TOOL_OUTPUT_MAX_CHARS: int(20_000, 100, 1_000_000),
    // Builtin tools: the public services by default; tests point them at fakes on loopback.
    SERPER_API_KEY: optionalString,
    SERPER_BASE_URL: httpUrl('https://google.serper.dev'),
    GAODE_API_KEY: optionalString,
    GAODE_BASE_URL: httpUrl('https://restapi.amap.com'),
    // Unset: OPENAI_API_KEY, and OPENAI_API_BASE then https://api.openai.com/v1.
    DALLE_API_KEY: optionalString,
    DALLE_BASE_URL: optionalString.pipe(
      z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    ),
    DUCKDUCKGO_BASE_URL: httpUrl('https://html.duckduckgo.com'),
    // `{lang}` is replaced by the tool's language setting.
    WIKIPEDIA_BASE_URL: z
      .string()
      .default('https://{lang}.wikipedia.org')
      .refine((v) => URL.canParse(v.replaceAll('{lang}', 'en')) && /^https?:\/\//.test(v), {
        error: 'must be an http(s) URL (it may contain {lang})',
      }),
    QUEUE_CONCURRENCY: int(4, 1, 256),
    JOB_TIMEOUT_MS: int(3_600_000, 1000, 7 * 24 * 3_600_000),
    SHUTDOWN_TIMEOUT_MS: int(10_000, 0, 600_000),
    SSE_PING_INTERVAL_MS: int(10_000, 50, 300_000),
    SWAGGER_ENABLED: bool.default(true),
    METRICS_ENABLED: bool.default(true),
  })
  .superRefine((env, ctx) => {
    if (!env.APP_ROLES.includes('api') && !env.REDIS_URL)
      ctx.addIssue({
        code: 'custom',
        path: ['APP_ROLES'],
        message:
          'a worker-only process needs REDIS_URL (the embedded mode runs jobs inside the api process)',
      });
  });

export type Env = z.output<typeof envSchema>;

export class ConfigValidationError extends Error {}

/** Parses the environment; a bad value throws one message naming every offending variable. */
export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const result = envSchema.safeParse(source);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `${String(i.path[0] ?? '(env)')}: ${i.message}`);
  throw new ConfigValidationError(`Invalid configuration: ${lines.join('; ')}`);
}

/**
 * Loads `.env` from the working directory when present (Node's own parser). Variables already
 * set in the environment win, so `.env` only fills in defaults for a developer machine.
 */
export function loadDotEnv(file = '.env'): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const [key, value] of Object.entries(parseEnvFile(text))) {
    if (process.env[key] === undefined) process.env[key] = value;
  }
}
