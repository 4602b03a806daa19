import { AdminOnly, ApiKeyAuth, CurrentAccount, CurrentPrincipal, Public } from '@app/common';
import type { AuthPrincipal } from '@app/common';
import { Controller, Get, Module } from '@nestjs/common';
import { APP_GUARD, ModulesContainer } from '@nestjs/core';
import { AuthGuard as PassportAuthGuard } from '@nestjs/passport';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount } from '@test/support/auth';
import type { Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import passport from 'passport';
import { JwtService } from '@nestjs/jwt';
import { AuthGuard } from 'src/modules/auth/guards/auth.guard';
import { SessionService } from 'src/modules/auth/services/session.service';
import { ApiKeyService } from 'src/modules/auth/services/api-key.service';
import { AccessTokenStrategy } from 'src/modules/auth/strategies/access-token.strategy';
import { ApiKeyStrategy } from 'src/modules/auth/strategies/api-key.strategy';
import { GithubStrategy } from 'src/modules/auth/strategies/github.strategy';

@Controller('fixture/guards')
class GuardFixtureController {
  @Public()
  @Get('open')
  open() {
    return { open: true };
  }

  @Get('me')
  me(@CurrentAccount() accountId: string) {
    return { account_id: accountId };
  }

  @ApiKeyAuth()
  @Get('key')
  key(@CurrentPrincipal() p: AuthPrincipal) {
    return { account_id: p.accountId, api_key_id: p.apiKeyId };
  }

  @AdminOnly()
  @Get('admin')
  admin(@CurrentPrincipal() p: AuthPrincipal) {
    return { account_id: p.accountId, role: p.role };
  }
}

@Module({ controllers: [GuardFixtureController] })
class GuardFixtureModule {}

/** The decorators later modules protect routes with: @Public, default (token), @AdminOnly. */
describe('route guards', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ imports: [GuardFixtureModule] });
  });
  afterAll(() => t.close());

  it('checks a token signature once, but its session on every request', async () => {
    const user = await createAccount(t);
    const jwt = t.app.get(JwtService);
    const verifies = jest.spyOn(jwt, 'verifyAsync');
    const me = () => t.http().get('/fixture/guards/me').set(user.auth);
    for (let i = 0; i < 3; i++) expect((await me()).body.data).toEqual({ account_id: user.id });
    expect(verifies).toHaveBeenCalledTimes(1);
    // A cached signature does not keep a signed-out session alive.
    await t.app.get(SessionService).revoke(
      (
        JSON.parse(Buffer.from(user.access_token.split('.')[1], 'base64url').toString()) as {
          sid: string;
        }
      ).sid,
      'test',
    );
    expect((await me()).body.code).toBe('unauthorized');
    // An expired token is verified again (and refused), whatever was cached before.
    const expired = jwt.sign(
      { sub: user.id, sid: randomUUID(), typ: 'access' },
      { expiresIn: -10, algorithm: 'HS256' },
    );
    const res = await t.http().get('/fixture/guards/me').set('Authorization', `Bearer ${expired}`);
    expect(res.body.code).toBe('unauthorized');
    verifies.mockRestore();
  });

  it('lets anyone call a @Public route', async () => {
    const res = await t.http().get('/fixture/guards/open');
    expect(res.body).toEqual({ code: 'success', message: '', data: { open: true } });
  });

  it('requires a token by default and hands the account to the handler', async () => {
    expect((await t.http().get('/fixture/guards/me')).body.code).toBe('unauthorized');
    const acc = await createAccount(t);
    const res = await t.http().get('/fixture/guards/me').set(acc.auth);
    expect(res.body.data).toEqual({ account_id: acc.id });
  });

  it('lets admins through @AdminOnly and answers forbidden (HTTP 200) to members', async () => {
    const id = randomUUID();
    const admin = await t
      .http()
      .get('/fixture/guards/admin')
      .set('Authorization', `Bearer ${await t.token(id, 'admin')}`);
    expect(admin.body).toEqual({
      code: 'success',
      message: '',
      data: { account_id: id, role: 'admin' },
    });
    const member = await t
      .http()
      .get('/fixture/guards/admin')
      .set('Authorization', `Bearer ${await t.token(id, 'member')}`);
    expect(member.status).toBe(200);
    expect(member.body).toEqual({
      code: 'forbidden',
      message: 'Only administrators can do this',
      data: {},
    });
    expect((await t.http().get('/fixture/guards/admin')).body.code).toBe('unauthorized');
  });
});

/** passport's registry, read straight from passport (not through our helpers). */
const strategyOf = (name: string): unknown =>
  (passport as unknown as { _strategy(n: string): unknown })._strategy(name);

interface Outcome {
  err: unknown;
  user: unknown;
  info: unknown;
}

/** Runs one passport strategy by name on a bare request, as @nestjs/passport's guards do. */
function authenticate(name: string, req: Partial<Request>): Promise<Outcome> {
  const full = { headers: {}, params: {}, body: {}, ip: '127.0.0.1', ...req } as Request;
  return new Promise((resolve, reject) => {
    const cb = (err: unknown, user: unknown, info: unknown) => resolve({ err, user, info });
    passport.authenticate(name, { session: false }, cb)(full, {} as Response, reject);
  });
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

/** Authentication runs through @nestjs/passport: strategies, the global guard, their answers. */
describe('passport strategies and the global guard', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ imports: [GuardFixtureModule] });
  });
  afterAll(() => t.close());

  it('registers the access-token, api-key and github strategies with passport', () => {
    expect(strategyOf('access-token')).toBe(t.app.get(AccessTokenStrategy));
    expect(strategyOf('api-key')).toBe(t.app.get(ApiKeyStrategy));
    expect(strategyOf('github')).toBe(t.app.get(GithubStrategy));
  });

  it('uses an @nestjs/passport AuthGuard subclass as the global guard', () => {
    expect(AuthGuard.prototype).toBeInstanceOf(PassportAuthGuard('access-token'));
    const globalGuards = [...t.app.get(ModulesContainer).values()].flatMap((m) =>
      [...m.providers.entries()]
        .filter(([token]) => typeof token === 'string' && token.startsWith(APP_GUARD))
        .map(([, wrapper]) => wrapper.instance),
    );
    expect(globalGuards.filter((g) => g instanceof AuthGuard)).toHaveLength(1);
  });

  it('access-token: refuses with our messages and accepts a live session', async () => {
    const key = (await t.app.get(ApiKeyService).create((await createAccount(t)).id, {})).api_key;
    const cases: Array<[Partial<Request>, string]> = [
      [{}, 'Sign in to use this API (Authorization: Bearer <access token>)'],
      [bearer(key), 'API keys only open the service API (/openapi, /v1); sign in to use this one'],
      [bearer('not-a-jwt'), 'The access token is invalid or expired, please sign in again'],
    ];
    for (const [req, message] of cases) {
      expect(await authenticate('access-token', req)).toEqual({
        err: null,
        user: false,
        info: { message },
      });
      const res = await t
        .http()
        .get('/fixture/guards/me')
        .set(req.headers ?? {});
      expect(res.status).toBe(200);
      expect(res.headers['www-authenticate']).toBeUndefined();
      expect(res.body).toEqual({ code: 'unauthorized', message, data: {} });
    }
    const id = randomUUID();
    const ok = await authenticate('access-token', bearer(await t.token(id)));
    expect(ok.user).toMatchObject({ accountId: id, role: 'member' });
  });

  it('api-key: refuses with our messages and accepts an active key', async () => {
    const acc = await createAccount(t);
    const key = await t.app.get(ApiKeyService).create(acc.id, {});
    const cases: Array<[Partial<Request>, string]> = [
      [{}, 'An API key is required: send Authorization: Bearer llmops-v1/...'],
      [
        bearer(acc.access_token),
        'This API takes an API key (llmops-v1/...), not a console access token',
      ],
      [bearer(`${key.api_key}x`), 'The API key is invalid or disabled'],
    ];
    for (const [req, message] of cases) {
      expect(await authenticate('api-key', req)).toEqual({
        err: null,
        user: false,
        info: { message },
      });
      const res = await t
        .http()
        .get('/fixture/guards/key')
        .set(req.headers ?? {});
      expect(res.body).toEqual({ code: 'unauthorized', message, data: {} });
    }
    const res = await t.http().get('/fixture/guards/key').set(bearer(key.api_key).headers);
    expect(res.body.data).toEqual({ account_id: acc.id, api_key_id: key.id });
  });

  it('github: answers validation, provider and configuration errors as the sign-in did', async () => {
    const errorOf = async (req: Partial<Request>) => {
      const { err, user } = await authenticate('github', req);
      expect(user).toBeFalsy();
      const e = err as { code: string; message: string };
      return { code: e.code, message: e.message };
    };
    expect(await errorOf({ body: {} })).toEqual({
      code: 'validate_error',
      message: 'code is required',
    });
    expect(await errorOf({ params: { provider_name: 'gitlab' }, body: { code: 'x' } })).toEqual({
      code: 'not_found',
      message: 'Sign-in with "gitlab" is not supported',
    });
    // This app has no GITHUB_CLIENT_ID: the flow stops before any call to GitHub.
    expect(
      (await errorOf({ params: { provider_name: 'github' }, body: { code: 'x' } })).message,
    ).toMatch(/GITHUB_CLIENT_ID/);
  });

  it('keeps each strategy on an open app when another app in the process closes', async () => {
    const other = await createTestApp();
    expect(strategyOf('access-token')).toBe(other.app.get(AccessTokenStrategy));
    await other.close();
    expect(strategyOf('access-token')).toBe(t.app.get(AccessTokenStrategy));
    expect(strategyOf('api-key')).toBe(t.app.get(ApiKeyStrategy));
    expect(strategyOf('github')).toBe(t.app.get(GithubStrategy));
    const acc = await createAccount(t);
    const res = await t.http().get('/fixture/guards/me').set(acc.auth);
    expect(res.body.data).toEqual({ account_id: acc.id });
  });
});
