import {
  ExpiringMap,
  FailException,
  ForbiddenError,
  NotFoundError,
  toUnix,
  ValidateError,
} from '@app/common';
import { AppConfig } from '@app/config';
import { TransactionService } from '@app/database';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, timingSafeEqual } from 'node:crypto';
import { EntityManager, Repository } from 'typeorm';
import { AccountDto } from '../dto/account.dto';
import { AccountEntity, AccountRole } from '../entities/account.entity';
import { AccountChanges } from './account-changes.service';

/**
 * Accounts: lookup, creation, profile updates. Who is admin: the first account (or, with
 * INIT_PASSWORD set, whoever registers with it while no admin exists), an ADMIN_EMAILS address
 * proven by an identity provider (GitHub-verified email), or `npm run account:promote`.
 */
@Injectable()
export class AccountService {
  /**
   * Profiles (`GET /account`, which the console calls on every page) kept in memory while
   * AccountChanges allows it: always in the embedded mode (this process is the database's only
   * client), in the scale mode while this process hears every other one's changes on Redis. Every
   * change goes through update()/markLogin() below (or `account:promote`), which drop the entry in
   * every process.
   */
  private readonly profiles: ExpiringMap<string, AccountDto>;

  constructor(
    private readonly config: AppConfig,
    private readonly tx: TransactionService,
    @InjectRepository(AccountEntity) private readonly accounts: Repository<AccountEntity>,
    private readonly changes: AccountChanges,
  ) {
    this.profiles = new ExpiringMap(PROFILE_CACHE_SIZE, changes.cacheTtlMs);
    changes.onChange((id) => (id ? this.profiles.delete(id) : this.profiles.clear()));
  }

  /** The account as `GET /account` shows it. */
  async profile(id: string): Promise<AccountDto> {
    const hit = this.profiles.get(id);
    if (hit) return hit;
    const generation = this.changes.generation;
    const dto = this.toDto(await this.getById(id));
    if (this.changes.mayCache(generation)) this.profiles.set(id, dto);
    return dto;
  }

  /**
   * Drops what any process caches about the account (its profile, its sessions' role); for
   * writes made outside this service.
   */
  forget(id: string): Promise<void> {
    return this.changes.changed(id);
  }

  findById(id: string): Promise<AccountEntity | null> {
    return this.accounts.findOne({ where: { id } });
  }

  async getById(id: string): Promise<AccountEntity> {
    const account = await this.findById(id);
    if (!account) throw new NotFoundError('The account does not exist');
    return account;
  }

  findByEmail(email: string): Promise<AccountEntity | null> {
    return this.accounts
      .createQueryBuilder('a')
      .where('lower(a.email) = lower(:email)', { email: email.trim() })
      .getOne();
  }

  /**
   * Creates an account. Serialized by an advisory transaction lock so "the first account becomes
   * admin" holds even when two sign-ups race; the unique index on lower(email) guards duplicates.
   * `initPassword` is what a registration supplied; `emailVerified` marks an email proven by an
   * identity provider (only then does ADMIN_EMAILS apply).
   */
  async create(input: {
    email: string;
    name: string;
    passwordHash: string | null;
    avatar?: string;
    initPassword?: string;
    emailVerified?: boolean;
  }): Promise<AccountEntity> {
    const email = input.email.trim().toLowerCase();
    try {
      return await this.tx.run(async (m) => {
        await m.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['llmops:account-create']);
        const exists = await m
          .createQueryBuilder(AccountEntity, 'a')
          .where('lower(a.email) = :email', { email })
          .getExists();
        if (exists) throw new FailException('An account with this email already exists');
        const role = await this.initialRole(m, email, input);
        return m.save(
          m.create(AccountEntity, {
            email,
            name: input.name.slice(0, 30),
            avatar: input.avatar ?? '',
            password_hash: input.passwordHash,
            role,
          }),
        );
      });
    } catch (err) {
      if (
        (err as { code?: string; driverError?: { code?: string } }).driverError?.code === '23505'
      ) {
        throw new FailException('An account with this email already exists');
      }
      throw err;
    }
  }

  /** Runs under the creation lock, so two sign-ups cannot both become "the first admin". */
  private async initialRole(
    m: EntityManager,
    email: string,
    input: { initPassword?: string; emailVerified?: boolean },
  ): Promise<AccountRole> {
    if (input.emailVerified && this.isAdminEmail(email)) return 'admin';
    const setupSecret = this.config.env.INIT_PASSWORD;
    if (!setupSecret) return (await m.count(AccountEntity)) === 0 ? 'admin' : 'member';
    if (await m.exists(AccountEntity, { where: { role: 'admin' } })) return 'member';
    // Not set up yet: only whoever holds INIT_PASSWORD may claim the server.
    if (input.emailVerified) {
      throw new ForbiddenError(
        'This server is not set up yet: its administrator must register first (with INIT_PASSWORD)',
      );
    }
    if (!input.initPassword) {
      throw new ValidateError({
        init_password: [
          'init_password is required: this server is not set up yet, and the first registration needs its setup password (INIT_PASSWORD)',
        ],
      });
    }
    if (!sameSecret(input.initPassword, setupSecret))
      throw new ForbiddenError('The setup password (init_password) is incorrect');
    return 'admin';
  }

  private isAdminEmail(email: string): boolean {
    return this.config.env.ADMIN_EMAILS.includes(email.trim().toLowerCase());
  }

  /**
   * Records a sign-in. `verifiedEmail` is an email an identity provider vouched for in this
   * sign-in: when it is the account's and listed in ADMIN_EMAILS, the account becomes admin (so
   * adding an email takes effect). A password sign-in proves no email and never promotes.
   */
  async markLogin(
    account: AccountEntity,
    ip: string,
    verifiedEmail?: string,
  ): Promise<AccountEntity> {
    const promote =
      account.role !== 'admin' &&
      !!verifiedEmail &&
      verifiedEmail.toLowerCase() === account.email.toLowerCase() &&
      this.isAdminEmail(verifiedEmail);
    const patch: Partial<AccountEntity> = {
      last_login_at: new Date(),
      last_login_ip: ip.slice(0, 64),
    };
    if (promote) patch.role = 'admin';
    await this.accounts.update({ id: account.id }, patch);
    await this.changes.changed(account.id);
    return { ...account, ...patch };
  }

  async update(
    id: string,
    patch: Partial<Pick<AccountEntity, 'name' | 'avatar' | 'password_hash'>>,
  ): Promise<void> {
    await this.accounts.update({ id }, patch);
    await this.changes.changed(id);
  }

  async roleOf(id: string): Promise<AccountRole | null> {
    const a = await this.accounts.findOne({ where: { id }, select: { id: true, role: true } });
    return a?.role ?? null;
  }

  toDto(a: AccountEntity): AccountDto {
    return {
      id: a.id,
      name: a.name,
      email: a.email,
      avatar: a.avatar,
      role: a.role,
      last_login_at: toUnix(a.last_login_at),
      last_login_ip: a.last_login_ip,
      created_at: toUnix(a.created_at),
    };
  }
}

const PROFILE_CACHE_SIZE = 10_000;

/** Constant-time comparison of two secrets of any length (compares their digests). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (v: string) => createHash('sha256').update(v, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}
