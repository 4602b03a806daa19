import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount } from '@test/support/auth';
import { FakeGithub, FakeGithubUser } from '@test/fakes/fake-github';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { OAuthStateService } from 'src/modules/auth/services/oauth-state.service';
import { DataSource } from 'typeorm';

const REDIRECT_URI = 'http://console.test/auth/authorize/github';
const INVALID_STATE = 'The sign-in link is invalid or has expired, please start the sign-in again';
const NO_VERIFIED_EMAIL =
  'Your GitHub account has no verified primary email; verify one on GitHub and try again';

let ipCounter = 0;
/** A distinct client IP per request (TRUST_PROXY), so the per-IP route throttle never trips. */
const nextIp = () => {
  ipCounter += 1;
  return `10.77.${Math.floor(ipCounter / 250)}.${(ipCounter % 250) + 1}`;
};

let ghIds = 10_000_000 + Math.floor(Math.random() * 1_000_000_000);

/** A GitHub user with a unique id, login and primary verified email. */
function ghUser(over: Partial<FakeGithubUser> = {}): FakeGithubUser {
  ghIds += 1;
  const login = `octo-${randomBytes(4).toString('hex')}`;
  return {
    id: ghIds,
    login,
    name: `Octo ${login.slice(5)}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${ghIds}?v=4`,
    emails: [
      { email: `${login}@users.noreply.github.com`, primary: false, verified: true },
      { email: `${login}@example.test`, primary: true, verified: true, visibility: 'public' },
    ],
    ...over,
  };
}

/** Console calls answer HTTP 200 whatever the outcome; returns the envelope. */
async function consoleCall(res: Promise<{ status: number; body: any }>): Promise<any> {
  const r = await res;
  expect(r.status).toBe(200);
  return r.body;
}

describe('GitHub OAuth sign-in', () => {
  let fake: FakeGithub;
  let t: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    fake = await FakeGithub.start();
    t = await createTestApp({
      env: { ...fake.appEnv(), GITHUB_REDIRECT_URI: REDIRECT_URI, TRUST_PROXY: 'true' },
    });
    db = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  const redirect = (provider = 'github') => consoleCall(t.http().get(`/oauth/${provider}`));
  const authorize = (body: Record<string, unknown>, provider = 'github') =>
    consoleCall(
      t.http().post(`/oauth/authorize/${provider}`).set('X-Forwarded-For', nextIp()).send(body),
    );
  const account = (token: string) =>
    consoleCall(t.http().get('/account').set('Authorization', `Bearer ${token}`));

  /** A fresh state, as the console gets it from GET /oauth/github. */
  async function newState(): Promise<string> {
    const res = await redirect();
    expect(res.code).toBe('success');
    return new URL(res.data.redirect_url as string).searchParams.get('state')!;
  }

  const linksOf = (openid: number) =>
    db.query<{ account_id: string }[]>(
      `SELECT account_id FROM account_oauth WHERE provider = 'github' AND openid = $1`,
      [String(openid)],
    );
  const accountsWithEmail = async (email: string) =>
    (
      await db.query<{ n: number }[]>(
        'SELECT count(*)::int AS n FROM accounts WHERE lower(email) = lower($1)',
        [email],
      )
    )[0].n;

  it('answers a redirect_url to GitHub with client_id, redirect_uri, scope and a signed state', async () => {
    const res = await redirect();
    expect(res).toEqual({
      code: 'success',
      message: '',
      data: { redirect_url: expect.any(String) },
    });
    const url = new URL(res.data.redirect_url as string);
    expect(`${url.origin}${url.pathname}`).toBe(`${fake.url}/login/oauth/authorize`);
    expect(url.searchParams.get('client_id')).toBe(fake.clientId);
    expect(url.searchParams.get('redirect_uri')).toBe(REDIRECT_URI);
    expect(url.searchParams.get('scope')?.split(/[ ,]/)).toEqual(
      expect.arrayContaining(['read:user', 'user:email']),
    );
    expect(url.searchParams.get('state')).toMatch(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/);
    // Every redirect carries a different state.
    expect(await newState()).not.toBe(url.searchParams.get('state'));
  });

  it('signs in through the full browser flow and creates the account and its GitHub link', async () => {
    const user = ghUser();
    const start = await redirect();
    fake.signInAs(user);
    // The browser follows redirect_url; GitHub sends it back to the console with code and state.
    const back = await fetch(start.data.redirect_url as string, { redirect: 'manual' });
    fake.signInAs(null);
    expect(back.status).toBe(302);
    const callback = new URL(back.headers.get('location')!);
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT_URI);
    const code = callback.searchParams.get('code')!;
    const state = callback.searchParams.get('state')!;
    expect(state).toBe(new URL(start.data.redirect_url as string).searchParams.get('state'));

    const tokensBefore = fake.counts.token;
    const res = await authorize({ code, state, with_refresh_token: true });
    expect(res.code).toBe('success');
    expect(res.message).toBe('Signed in');
    expect(Object.keys(res.data).sort()).toEqual(['access_token', 'expire_at', 'refresh_token']);
    expect(res.data.expire_at).toBeGreaterThan(Date.now() / 1000);

    // The code exchange is GitHub's protocol: client credentials, the code and the redirect URI.
    expect(fake.counts.token).toBe(tokensBefore + 1);
    expect(fake.lastTokenRequest?.body).toEqual({
      client_id: fake.clientId,
      client_secret: fake.clientSecret,
      code,
      redirect_uri: REDIRECT_URI,
    });
    expect(fake.lastTokenRequest?.headers.accept).toMatch(/application\/json/);
    const token = fake.issuedTokens.at(-1)!;
    const apiCalls = fake.requests.filter((r) => r.path === '/user' || r.path === '/user/emails');
    expect(apiCalls.slice(-2).map((r) => r.headers.authorization)).toEqual([
      `Bearer ${token}`,
      `Bearer ${token}`,
    ]);

    const me = await account(res.data.access_token as string);
    expect(me.code).toBe('success');
    expect(me.data).toMatchObject({
      name: user.name,
      email: `${user.login}@example.test`, // the primary verified one, not the first listed
      avatar: user.avatar_url,
    });
    expect(me.data.last_login_at).toBeGreaterThan(0);
    expect(await linksOf(user.id)).toEqual([{ account_id: me.data.id }]);

    // The refresh token works like a password sign-in's.
    const refreshed = await consoleCall(
      t.http().post('/auth/refresh').send({ refresh_token: res.data.refresh_token }),
    );
    expect(refreshed.code).toBe('success');
  });

  it('signs the same GitHub user into the same account next time', async () => {
    const user = ghUser();
    const first = await authorize({ code: fake.addUser(user), state: await newState() });
    // A console sign-in (no with_refresh_token) carries no refresh token.
    expect(Object.keys(first.data).sort()).toEqual(['access_token', 'expire_at']);
    expect(first.code).toBe('success');
    const firstAccount = (await account(first.data.access_token as string)).data;

    // Even after the primary email changed on GitHub, the GitHub id decides.
    const moved = {
      ...user,
      emails: [{ email: `moved-${user.login}@example.test`, primary: true, verified: true }],
    };
    const second = await authorize({ code: fake.addUser(moved), state: await newState() });
    expect(second.code).toBe('success');
    expect(second.data.access_token).not.toBe(first.data.access_token);
    const secondAccount = (await account(second.data.access_token as string)).data;
    expect(secondAccount.id).toBe(firstAccount.id);
    expect(await linksOf(user.id)).toEqual([{ account_id: firstAccount.id }]);
    expect(await accountsWithEmail(`moved-${user.login}@example.test`)).toBe(0);
  });

  it('links an existing password account with the same email (any case); GitHub takes it over', async () => {
    // Registered in the email owner's name (registration proves no email), signed in.
    const existing = await createAccount(t, {
      email: `Linked-${randomBytes(4).toString('hex')}@Example.test`,
      name: 'Password Person',
    });
    const signedIn = await consoleCall(
      t
        .http()
        .post('/auth/password-login')
        .send({ email: existing.email, password: existing.password }),
    );
    const squatter = { Authorization: `Bearer ${signedIn.data.access_token as string}` };
    expect((await consoleCall(t.http().get('/account').set(squatter))).code).toBe('success');
    const key = await consoleCall(
      t.http().post('/openapi/api-keys').set(existing.auth).send({ remark: 'theirs' }),
    );
    const user = ghUser({
      emails: [{ email: existing.email.toUpperCase(), primary: true, verified: true }],
    });
    const res = await authorize({ code: fake.addUser(user), state: await newState() });
    expect(res.code).toBe('success');
    const me = (await account(res.data.access_token as string)).data;
    expect(me.id).toBe(existing.id);
    expect(me.name).toBe('Password Person'); // the profile is kept
    expect(await accountsWithEmail(existing.email)).toBe(1);
    expect(await linksOf(user.id)).toEqual([{ account_id: existing.id }]);

    // Whoever set the password is out: it no longer signs in, and their session ended.
    const login = await consoleCall(
      t
        .http()
        .post('/auth/password-login')
        .send({ email: existing.email, password: existing.password }),
    );
    expect(login.code).not.toBe('success');
    expect((await consoleCall(t.http().get('/account').set(squatter))).code).toBe('unauthorized');
    // Their service-API key is disabled (the owner sees it in the list and may turn it on).
    const models = await t
      .http()
      .get('/v1/models')
      .set({ Authorization: `Bearer ${key.data.api_key as string}` });
    expect(models.status).toBe(401);
    // The GitHub sign-in goes on working, and again later.
    const again = await authorize({ code: fake.addUser(user), state: await newState() });
    expect((await account(again.data.access_token as string)).data.id).toBe(existing.id);
  });

  describe('state', () => {
    /** Each rejected state must be refused before GitHub is asked anything. */
    async function expectRefused(state: string): Promise<void> {
      const code = fake.addUser(ghUser());
      const calls = fake.requests.length;
      const res = await authorize({ code, state });
      expect(res).toEqual({ code: 'fail', message: INVALID_STATE, data: {} });
      expect(fake.requests.length).toBe(calls);
    }

    it('refuses a state whose signature was tampered with', async () => {
      const state = await newState();
      const [id, mac] = state.split('.');
      const flipped = `${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`;
      await expectRefused(`${id}.${flipped}`);
      await expectRefused(`${randomUUID()}.${mac}`);
      await expectRefused(id);
      await expectRefused('not-a-state');
      // The genuine state is still usable after those attempts.
      const ok = await authorize({ code: fake.addUser(ghUser()), state });
      expect(ok.code).toBe('success');
    });

    it('refuses a correctly signed state that was never issued', async () => {
      const id = randomUUID();
      const mac = createHmac('sha256', `${t.config.env.JWT_SECRET}:oauth-state`)
        .update(id)
        .digest('base64url');
      await expectRefused(`${id}.${mac}`);
    });

    it('refuses a state issued for another provider', async () => {
      const other = await t.app.get(OAuthStateService).issue('gitlab');
      await expectRefused(other);
    });

    it('refuses a replayed state', async () => {
      const state = await newState();
      const first = await authorize({ code: fake.addUser(ghUser()), state });
      expect(first.code).toBe('success');
      await expectRefused(state);
    });

    it('accepts {code} alone by default (the original console sends no state)', async () => {
      const user = ghUser({ name: null });
      const res = await authorize({ code: fake.addUser(user) });
      expect(res.code).toBe('success');
      const me = (await account(res.data.access_token as string)).data;
      expect(me.name).toBe(user.login); // no display name on GitHub: the login
      const empty = await authorize({ code: fake.addUser(ghUser()), state: '' });
      expect(empty.code).toBe('success');
    });
  });

  describe('GitHub answers', () => {
    it('fails with a clear message when the primary email is not verified', async () => {
      const user = ghUser({
        emails: [{ email: `unverified-${ghIds}@example.test`, primary: true, verified: false }],
      });
      const res = await authorize({ code: fake.addUser(user), state: await newState() });
      expect(res).toEqual({ code: 'fail', message: NO_VERIFIED_EMAIL, data: {} });
      expect(await accountsWithEmail(`unverified-${ghIds}@example.test`)).toBe(0);
      expect(await linksOf(user.id)).toEqual([]);
    });

    it('fails with a clear message when no email is primary', async () => {
      const user = ghUser({
        emails: [{ email: `secondary-${ghIds}@example.test`, primary: false, verified: true }],
      });
      const res = await authorize({ code: fake.addUser(user), state: await newState() });
      expect(res).toEqual({ code: 'fail', message: NO_VERIFIED_EMAIL, data: {} });
      const none = await authorize({ code: fake.addUser(ghUser({ emails: [] })) });
      expect(none).toEqual({ code: 'fail', message: NO_VERIFIED_EMAIL, data: {} });
      expect(await linksOf(user.id)).toEqual([]);
    });

    it('fails on a bad or already used code with GitHub reason', async () => {
      const bad = await authorize({ code: 'no-such-code', state: await newState() });
      expect(bad.code).toBe('fail');
      expect(bad.message).toBe(
        'GitHub refused the sign-in code (The code passed is incorrect or expired.); please sign in again',
      );
      const code = fake.addUser(ghUser());
      expect((await authorize({ code })).code).toBe('success');
      const reused = await authorize({ code });
      expect(reused.code).toBe('fail');
      expect(reused.message).toMatch(/The code passed is incorrect or expired/);
    });

    it('fails when GitHub refuses the client credentials', async () => {
      const real = fake.clientSecret;
      fake.clientSecret = 'rotated-on-github';
      try {
        const res = await authorize({ code: fake.addUser(ghUser()) });
        expect(res.code).toBe('fail');
        expect(res.message).toMatch(/client_id and\/or client_secret passed are incorrect/);
      } finally {
        fake.clientSecret = real;
      }
    });
  });

  it('answers not_found for an unknown provider', async () => {
    const get = await redirect('gitlab');
    expect(get).toEqual({
      code: 'not_found',
      message: 'Sign-in with "gitlab" is not supported',
      data: {},
    });
    const post = await authorize({ code: 'x' }, 'gitlab');
    expect(post.code).toBe('not_found');
  });

  it('validates the body', async () => {
    const res = await authorize({ state: await newState() });
    expect(res.code).toBe('validate_error');
    expect(res.message).toBe('code is required');
    expect((await authorize({ code: 42 })).message).toBe('code must be a string');
  });
});

describe('GitHub OAuth sign-in, not configured', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { GITHUB_CLIENT_ID: '', GITHUB_CLIENT_SECRET: '' } });
  });
  afterAll(() => t.close());

  it('fails naming GITHUB_CLIENT_ID', async () => {
    for (const req of [
      t.http().get('/oauth/github'),
      t.http().post('/oauth/authorize/github').send({ code: 'abc' }),
    ]) {
      const res = await consoleCall(req);
      expect(res.code).toBe('fail');
      expect(res.message).toMatch(/GITHUB_CLIENT_ID/);
    }
  });
});

describe('GitHub OAuth sign-in with OAUTH_REQUIRE_STATE=true', () => {
  let fake: FakeGithub;
  let t: TestApp;
  beforeAll(async () => {
    fake = await FakeGithub.start();
    t = await createTestApp({ env: { ...fake.appEnv(), OAUTH_REQUIRE_STATE: 'true' } });
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  it('refuses a callback without state, before calling GitHub', async () => {
    for (const body of [
      { code: fake.addUser(ghUser()) },
      { code: fake.addUser(ghUser()), state: '' },
    ]) {
      const res = await consoleCall(t.http().post('/oauth/authorize/github').send(body));
      expect(res).toEqual({
        code: 'fail',
        message: 'state is required for this sign-in',
        data: {},
      });
    }
    expect(fake.counts.token).toBe(0);
  });

  it('accepts a callback with its state', async () => {
    const start = await consoleCall(t.http().get('/oauth/github'));
    const state = new URL(start.data.redirect_url as string).searchParams.get('state');
    const res = await consoleCall(
      t
        .http()
        .post('/oauth/authorize/github')
        .send({ code: fake.addUser(ghUser()), state }),
    );
    expect(res.code).toBe('success');
  });
});

describe('GitHub OAuth sign-in with REGISTRATION_ENABLED=false', () => {
  let fake: FakeGithub;
  let t: TestApp;
  const admin = `boss-${randomBytes(4).toString('hex')}@example.com`;
  beforeAll(async () => {
    fake = await FakeGithub.start();
    t = await createTestApp({
      env: { ...fake.appEnv(), REGISTRATION_ENABLED: 'false', ADMIN_EMAILS: admin },
    });
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  const signIn = (user: FakeGithubUser) =>
    consoleCall(
      t
        .http()
        .post('/oauth/authorize/github')
        .send({ code: fake.addUser(user) }),
    );

  it('creates no account for a new GitHub user, but signs in an existing one and an ADMIN_EMAILS one', async () => {
    const stranger = ghUser();
    const refused = await signIn(stranger);
    expect(refused).toMatchObject({
      code: 'forbidden',
      message: 'Registration is disabled on this server; ask an administrator for an account',
    });
    const count = async (email: string) =>
      Number(
        (
          await t.app
            .get(DataSource)
            .query<Array<{ n: string }>>('SELECT count(*) AS n FROM accounts WHERE email = $1', [
              email.toLowerCase(),
            ])
        )[0].n,
      );
    expect(await count(stranger.emails[0].email)).toBe(0);

    const existing = await createAccount(t);
    const known = ghUser({ emails: [{ email: existing.email, primary: true, verified: true }] });
    expect((await signIn(known)).code).toBe('success');

    const boss = ghUser({ emails: [{ email: admin, primary: true, verified: true }] });
    expect((await signIn(boss)).code).toBe('success');
    expect(await count(admin)).toBe(1);
  });
});
