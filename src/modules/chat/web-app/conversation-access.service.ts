import { isUuid, NotFoundError, UnauthorizedError } from '@app/common';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Request } from 'express';
import { Repository } from 'typeorm';
import { AppService } from 'src/modules/app/services/app.service';
import { ConversationEntity } from '../entities/conversation.entity';
import { WebAppIdentity } from './web-app-identity.service';

const CONVERSATION_NOT_FOUND = 'The conversation does not exist';

/**
 * Who may use `/conversations/:conversation_id/*` (CONSOLE-SHAPES §4.11, the routes the web-app
 * page calls): a signed-in account on the conversations it talks in itself (account_id =
 * created_by = the account: the assistant agent's, ...), and a web-app visitor on their own
 * web-app conversations: the end user bound to the signed-in account, or the anonymous end user
 * the app's signed cookie names (WebAppIdentity), while the app is published (a web app works
 * only then). No credential at all answers unauthorized; a present but invalid access token too;
 * anything else that is not the caller's answers not_found, whether it exists or not.
 */
@Injectable()
export class ConversationAccess {
  constructor(
    private readonly identity: WebAppIdentity,
    private readonly apps: AppService,
    @InjectRepository(ConversationEntity)
    private readonly conversations: Repository<ConversationEntity>,
  ) {}

  async resolve(req: Request, conversationId: string): Promise<ConversationEntity> {
    const accountId = await this.identity.signedInAccount(req);
    if (!accountId && !this.identity.hasVisitorCookie(req)) throw new UnauthorizedError();
    const row = isUuid(conversationId)
      ? await this.conversations.findOne({ where: { id: conversationId, is_deleted: false } })
      : null;
    if (!row) throw new NotFoundError(CONVERSATION_NOT_FOUND);
    if (accountId && row.account_id === accountId && row.created_by === accountId) return row;
    if (
      row.invoke_from === 'web_app' &&
      row.app_id &&
      (await this.identity.mayActAs(
        req,
        { appId: row.app_id, accountId: row.account_id },
        row.created_by,
      )) &&
      (await this.apps.webAppLive(row.account_id, row.app_id))
    )
      return row;
    throw new NotFoundError(CONVERSATION_NOT_FOUND);
  }
}
