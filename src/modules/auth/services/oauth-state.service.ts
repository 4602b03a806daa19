import { FailException, isUuid } from '@app/common';
import { AppConfig } from '@app/config';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { LessThan, Repository } from 'typeorm';
import { OAuthStateEntity } from '../entities/oauth-state.entity';

const STATE_TTL_MS = 10 * 60_000;

/**
 * OAuth `state`: `<row id>.<HMAC(row id)>`. The HMAC proves we issued it; deleting the row on use
 * makes it single-use; the row's expiry bounds its life.
 */
@Injectable()
export class OAuthStateService {
  constructor(
    private readonly config: AppConfig,
    @InjectRepository(OAuthStateEntity) private readonly states: Repository<OAuthStateEntity>,
  ) {}

  async issue(provider: string): Promise<string> {
    const row = await this.states.save(
      this.states.create({ provider, expires_at: new Date(Date.now() + STATE_TTL_MS) }),
    );
    return `${row.id}.${this.sign(row.id)}`;
  }

  /** Consumes the state or throws a clear `fail` (forged, expired, replayed or for another provider). */
  async consume(provider: string, state: string): Promise<void> {
    const invalid = new FailException(
      'The sign-in link is invalid or has expired, please start the sign-in again',
    );
    const [id, mac] = state.split('.');
    if (!id || !mac || !isUuid(id)) throw invalid;
    const expected = Buffer.from(this.sign(id));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw invalid;
    const res = await this.states
      .createQueryBuilder()
      .delete()
      .where('id = :id AND provider = :provider AND expires_at > now()', { id, provider })
      .execute();
    if (!res.affected) throw invalid;
  }

  async purge(): Promise<number> {
    const res = await this.states.delete({ expires_at: LessThan(new Date()) });
    return res.affected ?? 0;
  }

  private sign(id: string): string {
    return createHmac('sha256', `${this.config.env.JWT_SECRET}:oauth-state`)
      .update(id)
      .digest('base64url');
  }
}
