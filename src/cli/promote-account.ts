import 'reflect-metadata';
import { loadDotEnv, parseEnv } from '@app/config';
import { buildDataSourceOptions, openPglite } from '@app/database';
import type { PGlite } from '@electric-sql/pglite';
import { Redis } from 'ioredis';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { AccountEntity, AccountRole } from 'src/modules/auth/entities/account.entity';
import { accountChangesChannel } from 'src/modules/auth/services/account-changes.service';

export const PROMOTE_USAGE = 'usage: npm run account:promote -- <email> [--role admin|member]';

export interface PromoteArgs {
  email: string;
  role: AccountRole;
}

/** `<email> [--role admin|member]` (also `--role=admin`); throws the usage on anything else. */
export function parsePromoteArgs(argv: string[]): PromoteArgs {
  let role: string = 'admin';
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--role') role = argv[++i] ?? '';
    else if (arg.startsWith('--role=')) role = arg.slice('--role='.length);
    else rest.push(arg);
  }
  if (rest.length !== 1 || !/^[^\s@]+@[^\s@]+$/.test(rest[0]))
    throw new Error(`expected one email address. ${PROMOTE_USAGE}`);
  if (role !== 'admin' && role !== 'member')
    throw new Error(`--role must be admin or member. ${PROMOTE_USAGE}`);
  return { email: rest[0].trim().toLowerCase(), role };
}

/**
 * Gives the account with `email` (case-insensitive) the role, then calls `changed` with its id so
 * running processes drop what they cache about it (the CLI publishes it on Redis: a demotion
 * takes effect at once; without the broadcast, within their 2 s session cache). The account's
 * tokens carry no role that could contradict it.
 */
export async function setAccountRole(
  ds: DataSource,
  email: string,
  role: AccountRole,
  changed: (accountId: string) => Promise<void> = async () => undefined,
): Promise<{ id: string; email: string; role: AccountRole; previous: AccountRole }> {
  const repo = ds.getRepository(AccountEntity);
  const account = await repo
    .createQueryBuilder('a')
    .where('lower(a.email) = lower(:email)', { email: email.trim() })
    .getOne();
  if (!account) throw new Error(`No account with the email ${email}`);
  if (account.role !== role) {
    await repo.update({ id: account.id }, { role });
    await changed(account.id);
  }
  return { id: account.id, email: account.email, role, previous: account.role };
}

/** The app's database: DATABASE_URL, else the embedded one (the app must be stopped then). */
async function main(): Promise<void> {
  const args = parsePromoteArgs(process.argv.slice(2));
  loadDotEnv();
  const env = parseEnv();
  let pglite: PGlite | undefined;
  if (!env.DATABASE_URL) pglite = await openPglite(path.join(path.resolve(env.STORAGE_DIR), 'db'));
  const ds = new DataSource(
    buildDataSourceOptions({
      url: env.DATABASE_URL,
      pglite,
      poolMax: 1,
      entities: [AccountEntity],
    }),
  );
  await ds.initialize();
  const redis = env.REDIS_URL
    ? new Redis(env.REDIS_URL, {
        lazyConnect: true,
        maxRetriesPerRequest: 1,
        connectTimeout: 5_000,
      })
    : undefined;
  // The scale mode's api processes cache account state: tell them, as the app does.
  const broadcast = async (accountId: string) => {
    if (!redis) return;
    try {
      await redis.connect();
      await redis.publish(accountChangesChannel(env.REDIS_PREFIX), accountId);
    } catch (err) {
      console.error(
        `warning: running processes were not told (${err instanceof Error ? err.message : String(err)}); they see the change within a few seconds`,
      );
    }
  };
  try {
    const done = await setAccountRole(ds, args.email, args.role, broadcast);
    console.log(
      done.previous === done.role
        ? `${done.email} is already ${done.role}`
        : `${done.email}: ${done.previous} -> ${done.role}`,
    );
  } finally {
    redis?.disconnect();
    await ds.destroy();
    await pglite?.close();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
