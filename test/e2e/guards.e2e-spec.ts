import { AdminOnly, CurrentAccount, CurrentPrincipal, Public } from '@app/common';
import type { AuthPrincipal } from '@app/common';
import { Controller, Get, Module } from '@nestjs/common';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount } from '@test/support/auth';
import { randomUUID } from 'node:crypto';

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
