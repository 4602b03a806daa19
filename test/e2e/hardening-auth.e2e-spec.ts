import { AdminOnly, CurrentPrincipal } from '@app/common';
import type { AuthPrincipal } from '@app/common';
import { Controller, Get, Module } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { FakeGithub, FakeGithubUser } from '@test/fakes/fake-github';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { refusal, SocketTracker } from '@test/support/socket-client';
import {
  ADMIN_DATABASE_URL,
  databaseUrl,
  runId,
  templateDatabaseName,
} from '@test/support/test-env';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { parsePromoteArgs, setAccountRole } from 'src/cli/promote-account';
import { PasswordService } from 'src/modules/auth/services/password.service';
import { SessionService } from 'src/modules/auth/services/session.service';
import { DataSource } from 'typeorm';

@Controller('fixture/hardening')
class AdminFixtureController {
  @AdminOnly()
  @Get('admin')
  admin(@CurrentPrincipal() p: AuthPrincipal) {
    return { account_id: p.accountId, role: p.role };
  }
}
@Module({ controllers: [AdminFixtureController] })
class AdminFixtureModule {}

/** Console calls answer HTTP 200 whatever the outcome; returns the envelope. */
async function consoleCall(res: Promise<{ status: number; body: any }>): Promise<any> {
  const r = await res;
  expect(r.status).toBe(200);
  return r.body;
}

let ipCounter = 0;
/** A distinct client IP per call (TRUST_PROXY), so route throttles and IP locks stay apart. */
const nextIp = () => {
  ipCounter += 1;
  return `10.${(process.pid % 200) + 1}.${100 + Math.floor(ipCounter / 250)}.${(ipCounter % 250) + 1}`;
};
const uniqueEmail = (tag: string) => `${tag}-${randomBytes(6).toString('hex')}@example.test`;
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<string, unknown>;

let ghIds = 20_000_000 + Math.floor(Math.random() * 1_000_000_000);
function ghUser(email: string, verified = true): FakeGithubUser {
  ghIds += 1;
  const login = `octo-${randomBytes(4).toString('hex')}`;
  return {
    id: ghIds,
    login,
    name: login,
    avatar_url: '',
    emails: [{ email, primary: true, verified }],
  };
}

/** A database of its own, cloned from the migrated template: "no admin exists yet" holds there. */
async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `llmops_test_${runId()}_hard_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} TEMPLATE ${templateDatabaseName(runId())}`);
  return {
    url: databaseUrl(name),
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

describe('hardening: tokens are bound to their session and account', () => {
  let t: TestApp;
  const sockets = new SocketTracker();
  beforeAll(async () => {
    t = await createTestApp({ imports: [AdminFixtureModule] });
  });
  afterEach(() => sockets.closeAll());
  afterAll(() => t.close());

  const me = (token: string) => consoleCall(t.http().get('/account').set(bearer(token)));
  /** Signed with the server's real secret, as someone who learnt it could. */
  const sign = (claims: Record<string, unknown>) =>
    new JwtService({ secret: t.config.env.JWT_SECRET }).sign(claims, { algorithm: 'HS256' });

  it("refuses a token naming another account with the signer's own live session (HTTP and socket.io)", async () => {
    const attacker = await createAccount(t);
    const victim = await createAccount(t);
    const { sid } = claimsOf(attacker.access_token);
    const forged = sign({ sub: victim.id, sid, role: 'member', typ: 'access' });
    expect(await me(forged)).toEqual({
      code: 'unauthorized',
      message: 'The access token is invalid or expired, please sign in again',
      data: {},
    });
    // The session itself is fine: its own account still works.
    expect((await me(attacker.access_token)).data.id).toBe(attacker.id);

    const { error, order } = await refusal(sockets.open(t.url, { auth: { token: forged } }));
    expect(error.message).toBe('Invalid or expired access token');
    expect(order).toEqual(['error', 'disconnect']);
    await expect(sockets.connect(t.url, attacker.access_token)).resolves.toBeDefined();
  });

  it("takes the role from the account, not from the token's claim", async () => {
    const member = await createAccount(t);
    const { sid } = claimsOf(member.access_token);
    const promoted = sign({ sub: member.id, sid, role: 'admin', typ: 'access' });
    const res = await consoleCall(t.http().get('/fixture/hardening/admin').set(bearer(promoted)));
    expect(res).toEqual({
      code: 'forbidden',
      message: 'Only administrators can do this',
      data: {},
    });
    expect((await me(promoted)).data.role).toBe('member');
  });

  it('answers unauthorized to a session id that is not a UUID, without asking the database', async () => {
    const user = await createAccount(t);
    const lookup = jest.spyOn(t.app.get(SessionService), 'lookup');
    try {
      for (const sid of ["1' OR '1'='1", 'not-a-uuid', '', '00000000-0000-4000-8000-00000000000g'])
        expect((await me(sign({ sub: user.id, sid, typ: 'access' }))).code).toBe('unauthorized');
      expect(lookup).not.toHaveBeenCalled();
    } finally {
      lookup.mockRestore();
    }
  });
});

describe('hardening: login lockout under concurrency (LOGIN_MAX_FAILURES=5)', () => {
  let t: TestApp;
  let verify: jest.SpyInstance;
  beforeAll(async () => {
    t = await createTestApp({
      env: { TRUST_PROXY: 'true', LOGIN_MAX_FAILURES: '5', LOGIN_LOCK_MINUTES: '15' },
    });
  });
  beforeEach(() => {
    verify = jest.spyOn(t.app.get(PasswordService), 'verify');
  });
  afterEach(() => verify.mockRestore());
  afterAll(() => t.close());

  const login = (email: string, password: string, ip = nextIp()) =>
    consoleCall(
      t.http().post('/auth/password-login').set('X-Forwarded-For', ip).send({ email, password }),
    );
  const isLocked = (r: any) =>
    r.code === 'fail' && /^Too many failed sign-in attempts/.test(r.message as string);
  const isWrong = (r: any) => r.code === 'fail' && r.message === 'Incorrect email or password';

  it('verifies at most 5 of 50 concurrent wrong passwords for one email (50 IPs), then refuses the right one', async () => {
    const victim: TestAccount = await createAccount(t);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => login(victim.email, 'wrong-passw0rd')),
    );
    expect(verify).toHaveBeenCalledTimes(5);
    expect(results.filter(isWrong)).toHaveLength(5);
    expect(results.filter(isLocked)).toHaveLength(45);

    // The right password, racing more wrong ones, is refused too and never verified.
    const race = await Promise.all([
      login(victim.email, victim.password),
      ...Array.from({ length: 5 }, () => login(victim.email, 'wrong-passw0rd')),
    ]);
    expect(race.every(isLocked)).toBe(true);
    expect(verify).toHaveBeenCalledTimes(5);
  });

  it('verifies at most 5 of 29 concurrent attempts from one IP across emails', async () => {
    const ip = nextIp();
    const results = await Promise.all(
      Array.from({ length: 29 }, () => login(uniqueEmail('guess'), 'guess-passw0rd', ip)),
    );
    expect(verify).toHaveBeenCalledTimes(5);
    expect(results.filter(isWrong)).toHaveLength(5);
    expect(results.filter(isLocked)).toHaveLength(24);
    const user = await createAccount(t);
    expect(isLocked(await login(user.email, user.password, ip))).toBe(true);
    expect((await login(user.email, user.password)).code).toBe('success');
  });

  it('takes the client IP from the trusted proxy, not from hops the client wrote itself', async () => {
    const user = await createAccount(t);
    // TRUST_PROXY=true is one proxy: the entry it appended, not the client's forged first one.
    const res = await login(user.email, user.password, '6.6.6.6, 10.9.8.7');
    expect(res.code).toBe('success');
    const [row] = await t.app
      .get(DataSource)
      .query<Array<{ last_login_ip: string }>>('SELECT last_login_ip FROM accounts WHERE id = $1', [
        user.id,
      ]);
    expect(row.last_login_ip).toBe('10.9.8.7');
  });

  it('gives a successful sign-in its attempt back: an IP signing in often is not locked', async () => {
    const ip = nextIp();
    const user = await createAccount(t);
    for (let i = 0; i < 8; i++)
      expect((await login(user.email, user.password, ip)).code).toBe('success');
    // And the email's failures are forgotten after a success.
    for (let i = 0; i < 4; i++)
      expect(isWrong(await login(user.email, 'wrong-passw0rd'))).toBe(true);
    expect((await login(user.email, user.password)).code).toBe('success');
    for (let i = 0; i < 4; i++)
      expect(isWrong(await login(user.email, 'wrong-passw0rd'))).toBe(true);
    expect((await login(user.email, user.password)).code).toBe('success');
  });
});

describe('hardening: who becomes admin', () => {
  const boss = uniqueEmail('boss');
  const chief = uniqueEmail('chief');
  let fake: FakeGithub;
  let t: TestApp;
  beforeAll(async () => {
    fake = await FakeGithub.start();
    t = await createTestApp({
      imports: [AdminFixtureModule],
      env: {
        ...fake.appEnv(),
        TRUST_PROXY: 'true',
        ADMIN_EMAILS: `other@example.test, ${boss}, ${chief}`,
      },
    });
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  const register = (email: string) =>
    consoleCall(
      t
        .http()
        .post('/account/register')
        .set('X-Forwarded-For', nextIp())
        .send({ email, password: 'passw0rd-ok', name: 'Someone' }),
    );
  const github = (user: FakeGithubUser) =>
    consoleCall(
      t
        .http()
        .post('/oauth/authorize/github')
        .set('X-Forwarded-For', nextIp())
        .send({ code: fake.addUser(user) }),
    );
  const roleOf = async (token: string) =>
    (await consoleCall(t.http().get('/account').set(bearer(token)))).data.role;

  it('never promotes a registration by ADMIN_EMAILS (the email is not verified), nor its password sign-ins', async () => {
    // Seed an account first, so this registration is not "the first account" of the database.
    await createAccount(t);
    const res = await register(boss.toUpperCase());
    expect(res.code).toBe('success');
    expect(await roleOf(res.data.access_token as string)).toBe('member');
    const login = await consoleCall(
      t
        .http()
        .post('/auth/password-login')
        .set('X-Forwarded-For', nextIp())
        .send({ email: boss, password: 'passw0rd-ok' }),
    );
    expect(await roleOf(login.data.access_token as string)).toBe('member');
  });

  it("does not promote a password account that a GitHub sign-in links to (its password may be a squatter's)", async () => {
    // The account registered above with boss's email has a password anyone could have set.
    const res = await github(ghUser(boss));
    expect(res.code).toBe('success');
    expect(await roleOf(res.data.access_token as string)).toBe('member');
  });

  it('promotes a GitHub sign-in whose verified primary email is in ADMIN_EMAILS', async () => {
    const res = await github(ghUser(chief));
    expect(res.code).toBe('success');
    expect(await roleOf(res.data.access_token as string)).toBe('admin');
    const admin = await consoleCall(
      t
        .http()
        .get('/fixture/hardening/admin')
        .set(bearer(res.data.access_token as string)),
    );
    expect(admin.code).toBe('success');
    // Another verified GitHub user, not listed: member.
    const other = await github(ghUser(uniqueEmail('octo')));
    expect(await roleOf(other.data.access_token as string)).toBe('member');
  });

  it('promotes and demotes with the account:promote function (any email case)', async () => {
    const user = await createAccount(t);
    const ds = t.app.get(DataSource);
    await expect(setAccountRole(ds, user.email.toUpperCase(), 'admin')).resolves.toEqual({
      id: user.id,
      email: user.email,
      role: 'admin',
      previous: 'member',
    });
    const token = await t.token(user.id);
    expect(await roleOf(token)).toBe('admin');
    expect(
      (await consoleCall(t.http().get('/fixture/hardening/admin').set(bearer(token)))).code,
    ).toBe('success');
    await setAccountRole(ds, user.email, 'member');
    expect(await roleOf(await t.token(user.id))).toBe('member');
    await expect(setAccountRole(ds, uniqueEmail('nobody'), 'admin')).rejects.toThrow(
      /^No account with the email /,
    );
  });

  it('parses the account:promote arguments', () => {
    expect(parsePromoteArgs(['Boss@Example.com'])).toEqual({
      email: 'boss@example.com',
      role: 'admin',
    });
    expect(parsePromoteArgs(['a@b.c', '--role', 'member']).role).toBe('member');
    expect(parsePromoteArgs(['--role=member', 'a@b.c']).role).toBe('member');
    expect(() => parsePromoteArgs([])).toThrow(/expected one email address\. usage: /);
    expect(() => parsePromoteArgs(['a@b.c', '--role', 'root'])).toThrow(
      /--role must be admin or member/,
    );
  });
});

describe('hardening: INIT_PASSWORD guards the first admin', () => {
  let db: { url: string; drop: () => Promise<void> };
  let fake: FakeGithub;
  let t: TestApp;
  beforeAll(async () => {
    db = await freshDatabase();
    fake = await FakeGithub.start();
    t = await createTestApp({
      env: {
        ...fake.appEnv(),
        DATABASE_URL: db.url,
        TRUST_PROXY: 'true',
        INIT_PASSWORD: 'setup-secret-42',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
    await db?.drop();
  });

  const register = (body: Record<string, unknown>) =>
    consoleCall(
      t
        .http()
        .post('/account/register')
        .set('X-Forwarded-For', nextIp())
        .send({ password: 'passw0rd-ok', name: 'Someone', ...body }),
    );
  const roleOf = async (token: string) =>
    (await consoleCall(t.http().get('/account').set(bearer(token)))).data.role;

  it('requires init_password to register before any admin exists, then registers normally', async () => {
    const missing = await register({ email: uniqueEmail('first') });
    expect(missing.code).toBe('validate_error');
    expect(missing.message).toMatch(/^init_password is required/);
    expect(Object.keys(missing.data as object)).toEqual(['init_password']);

    const wrong = await register({ email: uniqueEmail('first'), init_password: 'guess' });
    expect(wrong).toEqual({
      code: 'forbidden',
      message: 'The setup password (init_password) is incorrect',
      data: {},
    });
    // GitHub cannot claim the server either.
    const gh = await consoleCall(
      t
        .http()
        .post('/oauth/authorize/github')
        .set('X-Forwarded-For', nextIp())
        .send({ code: fake.addUser(ghUser(uniqueEmail('octo'))) }),
    );
    expect(gh.code).toBe('forbidden');
    expect(await t.app.get(DataSource).query('SELECT id FROM accounts')).toEqual([]);

    const first = await register({ email: uniqueEmail('first'), init_password: 'setup-secret-42' });
    expect(first.code).toBe('success');
    expect(await roleOf(first.data.access_token as string)).toBe('admin');

    const later = await register({ email: uniqueEmail('later') });
    expect(later.code).toBe('success');
    expect(await roleOf(later.data.access_token as string)).toBe('member');
  });
});
