import { FailException, NotFoundError, toUnix } from '@app/common';
import { AppConfig } from '@app/config';
import { TransactionService } from '@app/database';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AccountDto } from '../dto/account.dto';
import { AccountEntity, AccountRole } from '../entities/account.entity';

/** Accounts: lookup, creation (first account and ADMIN_EMAILS are admins), profile updates. */
@Injectable()
export class AccountService {
  constructor(
    private readonly config: AppConfig,
    private readonly tx: TransactionService,
    @InjectRepository(AccountEntity) private readonly accounts: Repository<AccountEntity>,
  ) {}

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
   */
  async create(input: {
    email: string;
    name: string;
    passwordHash: string | null;
    avatar?: string;
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
        const first = (await m.count(AccountEntity)) === 0;
        const role: AccountRole =
          first || this.config.env.ADMIN_EMAILS.includes(email) ? 'admin' : 'member';
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

  /** Admin from ADMIN_EMAILS is re-applied at sign-in, so adding an email takes effect. */
  async markLogin(account: AccountEntity, ip: string): Promise<AccountEntity> {
    const promote =
      account.role !== 'admin' &&
      this.config.env.ADMIN_EMAILS.includes(account.email.toLowerCase());
    const patch: Partial<AccountEntity> = {
      last_login_at: new Date(),
      last_login_ip: ip.slice(0, 64),
    };
    if (promote) patch.role = 'admin';
    await this.accounts.update({ id: account.id }, patch);
    return { ...account, ...patch };
  }

  async update(
    id: string,
    patch: Partial<Pick<AccountEntity, 'name' | 'avatar' | 'password_hash'>>,
  ): Promise<void> {
    await this.accounts.update({ id }, patch);
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
