import { randomBytes } from 'node:crypto';
import { AccountService } from 'src/modules/auth/services/account.service';
import { PasswordService } from 'src/modules/auth/services/password.service';
import { SessionService } from 'src/modules/auth/services/session.service';
import type { TestApp } from './app-factory';

export interface TestAccount {
  id: string;
  email: string;
  name: string;
  password: string;
  role: string;
  access_token: string;
  refresh_token: string;
  /** `{Authorization: 'Bearer <access token>'}` for supertest's `.set()`. */
  auth: { Authorization: string };
}

/** Creates an account with a unique email and signs it in, without going through HTTP. */
export async function createAccount(
  t: TestApp,
  opts: { email?: string; name?: string; password?: string } = {},
): Promise<TestAccount> {
  const email = opts.email ?? `user-${randomBytes(6).toString('hex')}@example.test`;
  const password = opts.password ?? 'passw0rd-test';
  const name = opts.name ?? 'Test User';
  const account = await t.app.get(AccountService).create({
    email,
    name,
    passwordHash: await t.app.get(PasswordService).hash(password),
  });
  const tokens = await t.app
    .get(SessionService)
    .start(account.id, account.role, { ip: '127.0.0.1', userAgent: 'jest' });
  return {
    id: account.id,
    email: account.email,
    name,
    password,
    role: account.role,
    ...tokens,
    auth: { Authorization: `Bearer ${tokens.access_token}` },
  };
}
