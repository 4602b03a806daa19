import { isUuid } from '@app/common';
import { insertRow } from '@app/database';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { EndUserEntity } from './entities/end-user.entity';

/** End users of published apps (service API and web apps), one app each. */
@Injectable()
export class EndUserService {
  constructor(@InjectRepository(EndUserEntity) private readonly users: Repository<EndUserEntity>) {}

  /** A new end user of the app, on its owner's account. */
  create(accountId: string, appId: string): Promise<EndUserEntity> {
    return insertRow(this.users, { account_id: accountId, app_id: appId });
  }

  /** Removes an end user made for a turn that could not start, if nothing refers to it. */
  async discardUnused(id: string): Promise<void> {
    await this.users.query(
      `DELETE FROM end_users e
        WHERE e.id = $1 AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.created_by = e.id)`,
      [id],
    );
  }

  /** The end user if it belongs to this app of this account, else null. */
  async ofApp(accountId: string, appId: string, endUserId: string): Promise<EndUserEntity | null> {
    if (!isUuid(endUserId)) return null;
    return this.users.findOne({ where: { id: endUserId, account_id: accountId, app_id: appId } });
  }
}
