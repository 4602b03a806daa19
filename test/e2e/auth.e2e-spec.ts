import { JwtService } from '@nestjs/jwt';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import {
  ADMIN_DATABASE_URL,
  databaseUrl,
  runId,
  templateDatabaseName,
  workerId,
} from '@test/support/test-env';
import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { PASSWORD_MESSAGE } from 'src/modules/auth/dto/auth.dto';
import { AccountService } from 'src/modules/auth/services/account.service';
import { ApiKeyService } from 'src/modules/auth/services/api-key.service';
import { DataSource } from 'typeorm';

const ACCESS_TTL = 900;
const BAD_CREDENTIALS = { code: 'fail', message: 'Incorrect email or password', data: {} };

type Res = Promise<{ status: number; body: any }>;

/** Every console response is HTTP 200, errors included; returns the envelope. */
async function consoleCall(res: Res): Promise<any> {
  const r = await res;
  expect(r.status).toBe(200);
  return r.body;
}

let ipCounter = 0;
/** A client IP no other test uses (TRUST_PROXY): per-IP locks and route throttles stay apart. */
function nextIp(): string {
  ipCounter += 1;
  return `10.${(process.pid % 200) + 1}.${Math.floor(ipCounter / 250)}.${(ipCounter % 250) + 1}`;
}

const uniqueEmail = (tag = 'auth') => `${tag}-${randomBytes(6).toString('hex')}@example.test`;
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('accounts and password sign-in', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({
      env: {
        TRUST_PROXY: 'true',
        LOGIN_MAX_FAILURES: '3',
        LOGIN_LOCK_MINUTES: '15',
        ACCESS_TOKEN_TTL_SECONDS: String(ACCESS_TTL),
      },
    });
  });
  afterAll(() => t.close());

  const register = (body: Record<string, unknown>, ip = nextIp()) =>
    consoleCall(t.http().post('/account/register').set('X-Forwarded-For', ip).send(body));
  const login = (email: string, password: string, ip = nextIp()) =>
    consoleCall(
      t
        .http()
        .post('/auth/password-login')
        .set('X-Forwarded-For', ip)
        .send({ email, password, with_refresh_token: true }),
    );
  const refresh = (refresh_token: unknown) =>
    consoleCall(
      t.http().post('/auth/refresh').set('X-Forwarded-For', nextIp()).send({ refresh_token }),
    );
  const me = (token: string) => consoleCall(t.http().get('/account').set(bearer(token)));
  const post = (token: string, path: string, body: Record<string, unknown> = {}) =>
    consoleCall(t.http().post(path).set(bearer(token)).send(body));

  describe('POST /account/register', () => {
    it('creates the account and signs it in', async () => {
      const email = uniqueEmail('reg');
      const res = await register({
        email: `  ${email.toUpperCase()} `,
        password: 'abcdefg1',
        name: ' Ada ',
      });
      expect(res.code).toBe('success');
      expect(res.message).toBe('Account created');
      // No refresh token unless asked for: the console keeps this whole answer in localStorage.
      expect(Object.keys(res.data).sort()).toEqual(['access_token', 'expire_at']);
      const account = await me(res.data.access_token as string);
      expect(account.code).toBe('success');
      expect(account.data).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        name: 'Ada',
        email, // trimmed and lower-cased
        avatar: '',
        role: expect.stringMatching(/^(admin|member)$/),
        last_login_at: expect.any(Number),
        last_login_ip: expect.any(String),
        created_at: expect.any(Number),
      });
      // The password is stored as argon2id, never in clear.
      const [row] = await t.app
        .get(DataSource)
        .query<{ password_hash: string }[]>('SELECT password_hash FROM accounts WHERE id = $1', [
          account.data.id,
        ]);
      expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      // The registered password signs in.
      expect((await login(email, 'abcdefg1')).code).toBe('success');
    });

    it('accepts a 64-character password', async () => {
      const res = await register({
        email: uniqueEmail(),
        password: `a1${'b'.repeat(62)}`,
        name: 'Max',
      });
      expect(res.code).toBe('success');
    });

    it('refuses a duplicate email in any case', async () => {
      const existing = await createAccount(t);
      const res = await register({
        email: existing.email.toUpperCase(),
        password: 'passw0rd-x',
        name: 'Twin',
      });
      expect(res).toEqual({
        code: 'fail',
        message: 'An account with this email already exists',
        data: {},
      });
    });

    it.each([
      ['missing email', { email: undefined }, 'email', 'email is required'],
      ['empty email', { email: '' }, 'email', 'email is required'],
      ['invalid email', { email: 'not-an-email' }, 'email', 'email must be a valid email address'],
      ['7-character password', { password: 'abcde12' }, 'password', PASSWORD_MESSAGE],
      ['password without a digit', { password: 'abcdefghij' }, 'password', PASSWORD_MESSAGE],
      ['password without a letter', { password: '1234567890' }, 'password', PASSWORD_MESSAGE],
      ['65-character password', { password: `a1${'b'.repeat(63)}` }, 'password', PASSWORD_MESSAGE],
      ['missing password', { password: undefined }, 'password', 'password is required'],
      ['empty name', { name: '' }, 'name', 'name must be 1-30 characters'],
      ['blank name', { name: '   ' }, 'name', 'name must be 1-30 characters'],
      ['31-character name', { name: 'n'.repeat(31) }, 'name', 'name must be 1-30 characters'],
      ['missing name', { name: undefined }, 'name', 'name must be a string'],
    ])('answers validate_error for a %s', async (_label, patch, field, message) => {
      const body = { email: uniqueEmail(), password: 'passw0rd-ok', name: 'Valid', ...patch };
      const res = await register(body);
      expect(res.code).toBe('validate_error');
      expect(res.message).toBe(message);
      expect(Object.keys(res.data)).toEqual([field]);
      expect(res.data[field]).toContain(message);
    });

    it('lists every invalid field at once', async () => {
      const res = await register({ email: 'x', password: 'short', name: '' });
      expect(res.code).toBe('validate_error');
      expect(Object.keys(res.data).sort()).toEqual(['email', 'name', 'password']);
    });
  });

  describe('POST /auth/password-login', () => {
    let user: TestAccount;
    beforeAll(async () => {
      user = await createAccount(t, { password: 'login-passw0rd' });
    });

    it('answers a refresh_token only to clients that ask for it', async () => {
      const plain = await consoleCall(
        t
          .http()
          .post('/auth/password-login')
          .set('X-Forwarded-For', nextIp())
          .send({ email: user.email, password: user.password }),
      );
      expect(plain).toEqual({
        code: 'success',
        message: 'Signed in',
        data: { access_token: expect.any(String), expire_at: expect.any(Number) },
      });
      const asked = await consoleCall(
        t
          .http()
          .post('/auth/password-login')
          .set('X-Forwarded-For', nextIp())
          .send({ email: user.email, password: user.password, with_refresh_token: 'true' }),
      );
      expect(asked.data.refresh_token).toEqual(expect.any(String));
      expect((await refresh(asked.data.refresh_token)).code).toBe('success');
      const bad = await consoleCall(
        t
          .http()
          .post('/auth/password-login')
          .set('X-Forwarded-For', nextIp())
          .send({ email: user.email, password: user.password, with_refresh_token: 'maybe' }),
      );
      expect(bad.code).toBe('validate_error');
      expect(bad.message).toBe('with_refresh_token must be true or false');
      const registered = await register({
        email: uniqueEmail('reg-refresh'),
        password: 'abcdefg1',
        name: 'R',
        with_refresh_token: true,
      });
      expect(registered.data.refresh_token).toEqual(expect.any(String));
    });

    it('answers access_token, expire_at in Unix seconds and refresh_token, and records the login', async () => {
      const ip = nextIp();
      const before = Math.floor(Date.now() / 1000);
      const res = await login(user.email.toUpperCase(), user.password, ip);
      const after = Math.ceil(Date.now() / 1000);
      expect(res.code).toBe('success');
      expect(res.data).toEqual({
        access_token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
        expire_at: expect.any(Number),
        refresh_token: expect.any(String),
      });
      expect(Number.isInteger(res.data.expire_at)).toBe(true);
      expect(res.data.expire_at).toBeGreaterThanOrEqual(before + ACCESS_TTL);
      expect(res.data.expire_at).toBeLessThanOrEqual(after + ACCESS_TTL);
      // The JWT's own exp agrees.
      const claims = JSON.parse(
        Buffer.from((res.data.access_token as string).split('.')[1], 'base64url').toString(),
      );
      expect(Math.abs(claims.exp - res.data.expire_at)).toBeLessThanOrEqual(1);

      const account = await me(res.data.access_token as string);
      expect(account.data.last_login_ip).toBe(ip);
      expect(account.data.last_login_at).toBeGreaterThanOrEqual(before);
      expect(account.data.last_login_at).toBeLessThanOrEqual(after);
    });

    it('gives the same answer for an unknown email and a wrong password', async () => {
      const unknown = await login(uniqueEmail('nobody'), user.password);
      const wrong = await login(user.email, 'wrong-passw0rd');
      expect(unknown).toEqual(BAD_CREDENTIALS);
      expect(wrong).toEqual(BAD_CREDENTIALS);
      // An OAuth-only account (no password) answers the same.
      const oauthOnly = await t.app.get(AccountService).create({
        email: uniqueEmail('oauth-only'),
        name: 'OAuth',
        passwordHash: null,
      });
      expect(await login(oauthOnly.email, '')).toMatchObject({ code: 'validate_error' });
      expect(await login(oauthOnly.email, 'anything1')).toEqual(BAD_CREDENTIALS);
    });

    it('validates the body', async () => {
      expect((await login('', 'x')).message).toBe('email is required');
      expect((await login('nope', 'x')).message).toBe('email must be a valid email address');
      expect((await login(user.email, '')).message).toBe('password is required');
    });
  });

  describe('login throttling (LOGIN_MAX_FAILURES=3)', () => {
    it('locks an email after 3 failures, even for the right password, from any IP', async () => {
      const victim = await createAccount(t);
      for (let i = 0; i < 3; i++)
        expect(await login(victim.email, 'wrong-passw0rd')).toEqual(BAD_CREDENTIALS);
      const locked = await login(victim.email, victim.password);
      expect(locked.code).toBe('fail');
      expect(locked.message).toBe('Too many failed sign-in attempts. Try again in 15 minutes.');
      expect(locked.data.retry_after_seconds).toBeGreaterThan(14 * 60);
      expect(locked.data.retry_after_seconds).toBeLessThanOrEqual(15 * 60);
      expect((await login(victim.email.toUpperCase(), victim.password)).message).toMatch(/minutes/);
      // Other accounts are not affected (the IPs were all different).
      const other = await createAccount(t);
      expect((await login(other.email, other.password)).code).toBe('success');
    });

    it('counts an IPv6 client by its /64, as the route throttles do', async () => {
      // Three guesses from three addresses of one /64 lock that /64 (not the emails: each differs).
      for (let i = 1; i <= 3; i++)
        expect(
          await login(
            `nobody-${i}-${randomUUID()}@example.com`,
            'wrong-passw0rd',
            `2001:db8:7::${i}`,
          ),
        ).toEqual(BAD_CREDENTIALS);
      const user = await createAccount(t);
      expect((await login(user.email, user.password, '2001:db8:7::99')).message).toMatch(
        /^Too many failed sign-in attempts/,
      );
      expect((await login(user.email, user.password, '2001:db8:8::1')).code).toBe('success');
    });

    it('counts wrong current passwords of POST /account/password as failed sign-ins', async () => {
      const user = await createAccount(t, { password: 'right-passw0rd' });
      for (let i = 0; i < 3; i++)
        expect(
          (
            await post(user.access_token, '/account/password', {
              password: 'new-passw0rd',
              old_password: `guess-${i}-passw0rd`,
            })
          ).message,
        ).toBe('The current password is incorrect');
      // The fourth guess, even the right one, waits out the lock.
      const locked = await post(user.access_token, '/account/password', {
        password: 'new-passw0rd',
        old_password: 'right-passw0rd',
      });
      expect(locked.message).toMatch(/^Too many failed sign-in attempts/);
    });

    it('forgets the failures of an email after a successful login', async () => {
      const user = await createAccount(t);
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < 2; i++) await login(user.email, 'wrong-passw0rd');
        expect((await login(user.email, user.password)).code).toBe('success');
      }
    });

    it('locks an IP after 3 failures across different emails', async () => {
      const ip = nextIp();
      for (let i = 0; i < 3; i++)
        expect(await login(uniqueEmail('guess'), 'guess-passw0rd', ip)).toEqual(BAD_CREDENTIALS);
      const user = await createAccount(t);
      const locked = await login(user.email, user.password, ip);
      expect(locked.code).toBe('fail');
      expect(locked.message).toMatch(
        /^Too many failed sign-in attempts\. Try again in \d+ minutes?\.$/,
      );
      // The same account from another IP is fine.
      expect((await login(user.email, user.password)).code).toBe('success');
    });
  });

  describe('sessions', () => {
    it('rotates refresh tokens', async () => {
      const user = await createAccount(t);
      const first = (await login(user.email, user.password)).data;
      const second = await refresh(first.refresh_token);
      expect(second.code).toBe('success');
      expect(second.data).toEqual({
        access_token: expect.any(String),
        expire_at: expect.any(Number),
        refresh_token: expect.any(String),
      });
      expect(second.data.refresh_token).not.toBe(first.refresh_token);
      expect((await me(second.data.access_token as string)).data.id).toBe(user.id);
      const third = await refresh(second.data.refresh_token);
      expect(third.code).toBe('success');
      expect((await me(third.data.access_token as string)).code).toBe('success');
      // Rotation keeps the session: the first access token still works.
      expect((await me(first.access_token as string)).code).toBe('success');
    });

    it('revokes the whole session when a rotated refresh token is reused', async () => {
      const user = await createAccount(t);
      const first = (await login(user.email, user.password)).data;
      const second = (await refresh(first.refresh_token)).data;
      expect((await me(second.access_token as string)).code).toBe('success');

      const reuse = await refresh(first.refresh_token);
      expect(reuse).toEqual({
        code: 'unauthorized',
        message: 'This refresh token was already used; the session has been signed out for safety',
        data: {},
      });
      // Both the thief's and the owner's tokens are dead now.
      expect((await refresh(second.refresh_token)).code).toBe('unauthorized');
      expect((await me(second.access_token as string)).code).toBe('unauthorized');
      expect((await me(first.access_token as string)).code).toBe('unauthorized');
      // Other sessions of the account live on.
      expect((await me(user.access_token)).code).toBe('success');
    });

    it('refuses unknown and malformed refresh tokens', async () => {
      expect((await refresh('rt_nope')).code).toBe('unauthorized');
      expect((await refresh(`rt_${randomBytes(36).toString('base64url')}`)).code).toBe(
        'unauthorized',
      );
      const user = await createAccount(t);
      expect((await refresh(user.refresh_token)).code).toBe('success');
      // An access token is no refresh token (and too long to be one).
      expect(await refresh(user.access_token)).toMatchObject({
        code: 'validate_error',
        message: 'refresh_token is not valid',
      });
      expect((await refresh(undefined)).message).toBe('refresh_token is required');
      expect((await refresh(42)).message).toBe('refresh_token must be a string');
    });

    it('logs out: the session access and refresh tokens stop working at once', async () => {
      const user = await createAccount(t);
      const s = (await login(user.email, user.password)).data;
      expect((await me(s.access_token as string)).code).toBe('success');
      expect(await post(s.access_token as string, '/auth/logout')).toEqual({
        code: 'success',
        message: 'Signed out',
        data: {},
      });
      expect((await me(s.access_token as string)).code).toBe('unauthorized');
      expect((await refresh(s.refresh_token)).code).toBe('unauthorized');
      expect((await post(s.access_token as string, '/auth/logout')).code).toBe('unauthorized');
      // Only that session ended.
      expect((await me(user.access_token)).code).toBe('success');
      expect((await consoleCall(t.http().post('/auth/logout').send({}))).code).toBe('unauthorized');
    });
  });

  describe('POST /account/password', () => {
    it('changes the password and signs out every other session, keeping this one', async () => {
      const user = await createAccount(t, { password: 'old-passw0rd' });
      const other = (await login(user.email, 'old-passw0rd')).data;
      const current = user.access_token;

      const wrongOld = await post(current, '/account/password', {
        password: 'new-passw0rd',
        old_password: 'not-it-1',
      });
      expect(wrongOld).toEqual({
        code: 'fail',
        message: 'The current password is incorrect',
        data: {},
      });
      expect((await me(other.access_token as string)).code).toBe('success');

      const weak = await post(current, '/account/password', { password: 'short1' });
      expect(weak).toMatchObject({ code: 'validate_error', message: PASSWORD_MESSAGE });
      expect((await post(current, '/account/password', {})).message).toBe('password is required');

      // {password} alone is enough: the session proves who is asking.
      const changed = await post(current, '/account/password', { password: 'new-passw0rd' });
      expect(changed.code).toBe('success');
      expect((await me(current)).code).toBe('success');
      expect((await me(other.access_token as string)).code).toBe('unauthorized');
      expect((await refresh(other.refresh_token)).code).toBe('unauthorized');
      // The current session keeps its refresh token too.
      expect((await refresh(user.refresh_token)).code).toBe('success');

      expect(await login(user.email, 'old-passw0rd')).toEqual(BAD_CREDENTIALS);
      const again = await login(user.email, 'new-passw0rd');
      expect(again.code).toBe('success');

      // With the right old_password it works as well.
      const withOld = await post(current, '/account/password', {
        password: 'third-passw0rd',
        old_password: 'new-passw0rd',
      });
      expect(withOld.code).toBe('success');
      expect((await me(current)).code).toBe('success');
      expect((await me(again.data.access_token as string)).code).toBe('unauthorized');
      expect((await login(user.email, 'third-passw0rd')).code).toBe('success');
    });

    it('does not touch the sessions of other accounts', async () => {
      const [x, y] = await Promise.all([createAccount(t), createAccount(t)]);
      expect(
        (await post(x.access_token, '/account/password', { password: 'brand-new-1' })).code,
      ).toBe('success');
      expect((await me(y.access_token)).code).toBe('success');
    });
  });

  describe('profile', () => {
    let user: TestAccount;
    beforeAll(async () => {
      user = await createAccount(t, { name: 'Before' });
    });

    it('updates the name', async () => {
      expect(await post(user.access_token, '/account/name', { name: '  Grace Hopper ' })).toEqual({
        code: 'success',
        message: 'Name updated',
        data: {},
      });
      expect((await me(user.access_token)).data.name).toBe('Grace Hopper');
      expect((await post(user.access_token, '/account/name', { name: 'n'.repeat(30) })).code).toBe(
        'success',
      );
    });

    it.each([
      [{ name: '' }, 'name must be 1-30 characters'],
      [{ name: '    ' }, 'name must be 1-30 characters'],
      [{ name: 'n'.repeat(31) }, 'name must be 1-30 characters'],
      [{}, 'name must be a string'],
      [{ name: 42 }, 'name must be a string'],
    ])('refuses the name %j', async (body, message) => {
      const res = await post(user.access_token, '/account/name', body);
      expect(res.code).toBe('validate_error');
      expect(res.message).toBe(message);
    });

    it('updates the avatar', async () => {
      for (const avatar of ['https://cdn.example.com/a/b.png?x=1', 'http://localhost:5000/f.png']) {
        expect(await post(user.access_token, '/account/avatar', { avatar })).toEqual({
          code: 'success',
          message: 'Avatar updated',
          data: {},
        });
        expect((await me(user.access_token)).data.avatar).toBe(avatar);
      }
    });

    it.each([
      [{ avatar: 'ftp://example.com/a.png' }, 'avatar must be an http(s) URL'],
      [{ avatar: 'javascript:alert(1)' }, 'avatar must be an http(s) URL'],
      [{ avatar: 'example.com/a.png' }, 'avatar must be an http(s) URL'],
      [{ avatar: 'not a url' }, 'avatar must be an http(s) URL'],
      [
        { avatar: `https://example.com/${'a'.repeat(500)}` },
        'avatar must be at most 500 characters',
      ],
      [{ avatar: '' }, 'avatar is required'],
      [{}, 'avatar is required'],
    ])('refuses the avatar %j', async (body, message) => {
      const res = await post(user.access_token, '/account/avatar', body);
      expect(res.code).toBe('validate_error');
      expect(res.message).toBe(message);
    });
  });

  describe('access tokens on console routes', () => {
    const routes: Array<[string, string]> = [
      ['get', '/account'],
      ['post', '/account/name'],
      ['post', '/account/avatar'],
      ['post', '/account/password'],
      ['post', '/auth/logout'],
      ['get', '/openapi/api-keys'],
    ];
    const call = (method: string, path: string, authorization?: string) => {
      const req = method === 'get' ? t.http().get(path) : t.http().post(path).send({});
      return consoleCall(authorization ? req.set('Authorization', authorization) : req);
    };

    it('answers unauthorized (HTTP 200) without a token', async () => {
      for (const [method, path] of routes) {
        const res = await call(method, path);
        expect(res).toEqual({
          code: 'unauthorized',
          message: 'Sign in to use this API (Authorization: Bearer <access token>)',
          data: {},
        });
      }
    });

    it('answers unauthorized for garbage and malformed tokens', async () => {
      const user = await createAccount(t);
      const foreign = new JwtService({ secret: 'someone-elses-secret-0123456789' }).sign(
        { sub: user.id, sid: '00000000-0000-4000-8000-000000000000', typ: 'access', role: 'admin' },
        { algorithm: 'HS256' },
      );
      const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const sid = JSON.parse(
        Buffer.from(user.access_token.split('.')[1], 'base64url').toString(),
      ).sid;
      const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: user.id, sid, typ: 'access', exp: 9999999999 })}.`;
      for (const authorization of [
        'Bearer garbage',
        'Bearer a.b.c',
        `Basic ${Buffer.from('a:b').toString('base64')}`,
        user.access_token, // no "Bearer"
        `Bearer ${user.refresh_token}`,
        `Bearer ${foreign}`,
        `Bearer ${unsigned}`,
      ]) {
        for (const [method, path] of routes) {
          const res = await call(method, path, authorization);
          expect(res.code).toBe('unauthorized');
        }
      }
    });

    it('refuses an expired token', async () => {
      const user = await createAccount(t);
      const sid = JSON.parse(
        Buffer.from(user.access_token.split('.')[1], 'base64url').toString(),
      ).sid;
      const expired = t.app.get(JwtService).sign({
        sub: user.id,
        sid,
        role: 'member',
        typ: 'access',
        iat: Math.floor(Date.now() / 1000) - 120,
        exp: Math.floor(Date.now() / 1000) - 60,
      });
      expect(await me(expired)).toEqual({
        code: 'unauthorized',
        message: 'The access token is invalid or expired, please sign in again',
        data: {},
      });
      expect((await me(user.access_token)).code).toBe('success');
    });

    it('refuses a well-signed token that is not an access token or has no live session', async () => {
      const user = await createAccount(t);
      const jwt = t.app.get(JwtService);
      const sid = JSON.parse(
        Buffer.from(user.access_token.split('.')[1], 'base64url').toString(),
      ).sid;
      const forged = [
        jwt.sign({ sub: user.id, sid, typ: 'refresh' }),
        jwt.sign({ sub: user.id, typ: 'access' }),
        jwt.sign({ sub: user.id, sid: '00000000-0000-4000-8000-000000000000', typ: 'access' }),
      ];
      for (const token of forged) expect((await me(token)).code).toBe('unauthorized');
    });

    it('refuses the token of a deleted session', async () => {
      const user = await createAccount(t);
      const token = await t.token(user.id);
      const sid = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sid;
      await t.app.get(DataSource).query('DELETE FROM auth_sessions WHERE id = $1', [sid]);
      expect((await me(token)).code).toBe('unauthorized');
      expect((await me(user.access_token)).code).toBe('success');
    });

    it('refuses an API key with a clear message', async () => {
      const user = await createAccount(t);
      const key = await t.app.get(ApiKeyService).create(user.id, {});
      for (const [method, path] of routes) {
        const res = await call(method, path, `Bearer ${key.api_key}`);
        expect(res).toEqual({
          code: 'unauthorized',
          message: 'API keys only open the service API (/openapi, /v1); sign in to use this one',
          data: {},
        });
      }
    });
  });
});

describe('registration disabled (REGISTRATION_ENABLED=false)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { REGISTRATION_ENABLED: 'false' } });
  });
  afterAll(() => t.close());

  it('answers forbidden, while existing accounts still sign in', async () => {
    const email = uniqueEmail('closed');
    const res = await consoleCall(
      t.http().post('/account/register').send({ email, password: 'passw0rd-ok', name: 'Closed' }),
    );
    expect(res).toEqual({
      code: 'forbidden',
      message: 'Registration is disabled on this server; ask an administrator for an account',
      data: {},
    });
    expect(await t.app.get(AccountService).findByEmail(email)).toBeNull();
    const user = await createAccount(t);
    const login = await consoleCall(
      t.http().post('/auth/password-login').send({ email: user.email, password: user.password }),
    );
    expect(login.code).toBe('success');
  });
});

describe('roles on a brand-new database', () => {
  const name = `llmops_test_${runId()}_w${workerId()}_auth_roles`;
  const boss = uniqueEmail('boss');
  let admin: Client;
  let t: TestApp;

  beforeAll(async () => {
    admin = new Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${templateDatabaseName(runId())}`);
    t = await createTestApp({
      env: {
        DATABASE_URL: databaseUrl(name),
        ADMIN_EMAILS: `other@example.test, ${boss.toUpperCase()}`,
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });

  const register = (email: string) =>
    consoleCall(
      t.http().post('/account/register').send({ email, password: 'passw0rd-ok', name: 'Someone' }),
    );
  const roleOf = async (tokens: { data: { access_token: string } }) =>
    (await consoleCall(t.http().get('/account').set(bearer(tokens.data.access_token)))).data.role;

  it('makes exactly the first account admin, even when sign-ups race', async () => {
    const results = await Promise.all([1, 2, 3].map(() => register(uniqueEmail('first'))));
    for (const r of results) expect(r.code).toBe('success');
    const roles = await Promise.all(results.map(roleOf));
    expect(roles.filter((r) => r === 'admin')).toHaveLength(1);
    expect(roles.filter((r) => r === 'member')).toHaveLength(2);
    expect(await roleOf(await register(uniqueEmail('later')))).toBe('member');
  });

  it('does not make ADMIN_EMAILS admins by registration (nothing verified the email)', async () => {
    expect(await roleOf(await register(boss))).toBe('member');
  });
});
