import { FailException, ForbiddenError, NotFoundError } from '@app/common';
import { AppConfig } from '@app/config';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { PasswordLoginDto, RegisterDto } from '../dto/auth.dto';
import { AccountOAuthEntity } from '../entities/account-oauth.entity';
import { AccountEntity } from '../entities/account.entity';
import { ApiKeyService } from './api-key.service';
import { AccountService } from './account.service';
import { GithubOAuthService } from './github-oauth.service';
import { LoginThrottleService } from './login-throttle.service';
import { OAuthStateService } from './oauth-state.service';
import { PasswordService } from './password.service';
import { ClientInfo, IssuedTokens, SessionService } from './session.service';

/** One message for unknown email and wrong password: no account enumeration. */
const BAD_CREDENTIALS = 'Incorrect email or password';

@Injectable()
export class AuthService {
  constructor(
    private readonly config: AppConfig,
    private readonly accounts: AccountService,
    private readonly passwords: PasswordService,
    private readonly sessions: SessionService,
    private readonly throttle: LoginThrottleService,
    private readonly github: GithubOAuthService,
    private readonly states: OAuthStateService,
    private readonly apiKeys: ApiKeyService,
    @InjectRepository(AccountOAuthEntity) private readonly links: Repository<AccountOAuthEntity>,
  ) {}

  async register(dto: RegisterDto, client: ClientInfo): Promise<IssuedTokens> {
    if (!this.config.env.REGISTRATION_ENABLED) {
      throw new ForbiddenError(
        'Registration is disabled on this server; ask an administrator for an account',
      );
    }
    const account = await this.accounts.create({
      email: dto.email,
      name: dto.name,
      passwordHash: await this.passwords.hash(dto.password),
      initPassword: dto.init_password,
    });
    return this.signIn(account, client);
  }

  async passwordLogin(dto: PasswordLoginDto, client: ClientInfo): Promise<IssuedTokens> {
    // The attempt is counted before the password is checked, so parallel guesses share the limit.
    await this.throttle.reserve(this.throttle.subjects(dto.email, client.ip));
    const account = await this.accounts.findByEmail(dto.email);
    const ok = await this.passwords.verify(account?.password_hash ?? null, dto.password);
    if (!account || !ok) throw new FailException(BAD_CREDENTIALS, {}, 401);
    await this.throttle.release(dto.email, client.ip);
    return this.signIn(account, client);
  }

  refresh(refreshToken: string): Promise<IssuedTokens> {
    return this.sessions.rotate(refreshToken, (id) => this.accounts.roleOf(id));
  }

  async logout(sessionId: string | undefined): Promise<void> {
    if (sessionId) await this.sessions.revoke(sessionId, 'logout');
  }

  /** Sets a new password; other sessions are signed out, this one stays. */
  async changePassword(
    accountId: string,
    sessionId: string | undefined,
    password: string,
    oldPassword?: string,
  ): Promise<void> {
    const account = await this.accounts.getById(accountId);
    if (oldPassword !== undefined) {
      // Guesses of the current password count as failed sign-ins of the account's email: a
      // stolen token cannot recover the password (for use elsewhere) by trying without limit.
      const [emailSubject] = this.throttle.subjects(account.email, '');
      await this.throttle.reserve([emailSubject]);
      if (!(await this.passwords.verify(account.password_hash, oldPassword)))
        throw new FailException('The current password is incorrect');
      await this.throttle.clear(emailSubject);
    }
    await this.accounts.update(accountId, { password_hash: await this.passwords.hash(password) });
    await this.sessions.revokeOthers(accountId, sessionId, 'password_changed');
  }

  async oauthRedirect(provider: string): Promise<string> {
    this.assertProvider(provider);
    return this.github.authorizeUrl(await this.states.issue(provider));
  }

  /** GitHub callback: links the identity to an account (by provider id, then by email) or creates one. */
  async oauthAuthorize(
    provider: string,
    code: string,
    state: string | undefined,
    client: ClientInfo,
  ): Promise<IssuedTokens> {
    this.assertProvider(provider);
    if (state !== undefined && state !== '') await this.states.consume(provider, state);
    else if (this.config.env.OAUTH_REQUIRE_STATE)
      throw new FailException('state is required for this sign-in');
    const identity = await this.github.identify(code);
    const link = await this.links.findOne({ where: { provider, openid: identity.openid } });
    let account: AccountEntity | null = link ? await this.accounts.findById(link.account_id) : null;
    let hadPassword = !!account?.password_hash;
    if (!account) {
      const byEmail = await this.accounts.findByEmail(identity.email);
      hadPassword = !!byEmail?.password_hash;
      if (byEmail?.password_hash) {
        // Registration proves no email: whoever set this password may not own the address that
        // GitHub just vouched for (an account registered in its owner's name before they came).
        // The owner's GitHub takes the account over: the password stops working, every session
        // signs out and the service-API keys are disabled (the owner sees them in the console
        // and turns on the ones they made); a new password can be set once signed in.
        await this.accounts.update(byEmail.id, { password_hash: null });
        await this.sessions.revokeOthers(byEmail.id, undefined, 'oauth_linked');
        await this.apiKeys.disableAll(byEmail.id);
        byEmail.password_hash = null;
      }
      // A new account: GitHub sign-up is registration, closed with it (an ADMIN_EMAILS address
      // may still come in, so a closed server can get its admin).
      if (
        !byEmail &&
        !this.config.env.REGISTRATION_ENABLED &&
        !this.config.env.ADMIN_EMAILS.includes(identity.email.toLowerCase())
      ) {
        throw new ForbiddenError(
          'Registration is disabled on this server; ask an administrator for an account',
        );
      }
      account =
        byEmail ??
        (await this.accounts.create({
          email: identity.email,
          name: identity.name,
          passwordHash: null,
          avatar: identity.avatar,
          emailVerified: true,
        }));
      if (link) await this.links.update({ id: link.id }, { account_id: account.id });
      else {
        await this.links
          .createQueryBuilder()
          .insert()
          .values({ account_id: account.id, provider, openid: identity.openid })
          .orIgnore()
          .execute();
      }
    }
    // ADMIN_EMAILS trusts the verified email only for accounts GitHub alone ever controlled: a
    // password account with that email may have been registered by anyone before its owner came,
    // and what they left in it (a workflow, a tool) would run as admin (use `account:promote`).
    return this.signIn(account, client, hadPassword ? undefined : identity.email);
  }

  /** `verifiedEmail`: an email the identity provider vouched for in this sign-in (ADMIN_EMAILS). */
  private async signIn(
    account: AccountEntity,
    client: ClientInfo,
    verifiedEmail?: string,
  ): Promise<IssuedTokens> {
    const updated = await this.accounts.markLogin(account, client.ip, verifiedEmail);
    return this.sessions.start(updated.id, updated.role, client);
  }

  private assertProvider(provider: string): void {
    if (provider !== 'github')
      throw new NotFoundError(`Sign-in with "${provider}" is not supported`);
    if (!this.github.enabled) {
      throw new FailException(
        'GitHub sign-in is not configured on this server (GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET)',
      );
    }
  }
}
