import { getRepositoryToken } from '@nestjs/typeorm';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { AccountEntity } from 'src/modules/auth/entities/account.entity';
import { Repository } from 'typeorm';

/**
 * GET /account in the embedded mode (PGlite: this process is the database's only one) is served
 * from memory, and every change made through the service shows at once.
 */
describe('account profile (embedded mode)', () => {
  let t: TestApp;
  let user: TestAccount;
  beforeAll(async () => {
    t = await createTestApp({ env: { DATABASE_URL: '' } });
    user = await createAccount(t, { password: 'profile-passw0rd' });
  }, 60_000);
  afterAll(() => t?.close());

  const me = async () => (await t.http().get('/account').set(user.auth)).body;

  it('reads the account once, and shows a change made through the API at once', async () => {
    expect(t.config.usesPglite).toBe(true);
    const repo = t.app.get<Repository<AccountEntity>>(getRepositoryToken(AccountEntity));
    const reads = jest.spyOn(repo, 'findOne');
    expect((await me()).data.name).toBe('Test User');
    expect((await me()).data.name).toBe('Test User');
    expect(reads).toHaveBeenCalledTimes(1);
    const renamed = await t.http().post('/account/name').set(user.auth).send({ name: 'Renamed' });
    expect(renamed.body.code).toBe('success');
    expect((await me()).data.name).toBe('Renamed');
    const avatar = 'https://example.test/a.png';
    await t.http().post('/account/avatar').set(user.auth).send({ avatar });
    expect((await me()).data.avatar).toBe(avatar);
    reads.mockRestore();
  });

  it('shows a new sign-in at once', async () => {
    const before = (await me()).data.last_login_at as number;
    await new Promise((r) => setTimeout(r, 1100));
    const login = await t
      .http()
      .post('/auth/password-login')
      .send({ email: user.email, password: user.password });
    expect(login.body.code).toBe('success');
    expect((await me()).data.last_login_at).toBeGreaterThan(before);
  });
});
