import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { MESSAGE_LOOKUP, type MessageLookup } from '../model/ai/message-lookup';
import { AssistantAgentController } from './assistant-agent.controller';
import { ConversationController } from './conversation.controller';
import { ConversationService } from './conversation.service';
import { ConversationEntity } from './entities/conversation.entity';
import { MessageAgentThoughtEntity } from './entities/message-agent-thought.entity';
import { MessageEntity } from './entities/message.entity';
import { EndUserEntity } from './entities/end-user.entity';
import { EndUserService } from './end-user.service';
import { AppsModule } from '../app/app.module';
import { ModelModule } from '../model/model.module';
import { OpenAiCompatController } from './openai/openai-compat.controller';
import { OpenAiCompatService } from './openai/openai-compat.service';

/**
 * Conversations and messages: the store of every chat surface and the console's routes on it.
 * Global only for MESSAGE_LOOKUP, the port the AI helpers (model module, which this module
 * depends on) read messages through; everything else is exported as ConversationService.
 */
@Global()
@Module({
  imports: [
    TypeOrmModule.forFeature([
      ConversationEntity,
      MessageEntity,
      MessageAgentThoughtEntity,
      EndUserEntity,
    ]),
    ModelModule,
    AppsModule,
  ],
  controllers: [ConversationController, AssistantAgentController, OpenAiCompatController],
  providers: [
    ConversationService,
    EndUserService,
    OpenAiCompatService,
    {
      provide: MESSAGE_LOOKUP,
      inject: [ConversationService],
      useFactory: (c: ConversationService): MessageLookup => ({
        exchange: (accountId, messageId) => c.exchange(accountId, messageId),
      }),
    },
  ],
  exports: [ConversationService, EndUserService, MESSAGE_LOOKUP],
})
export class ChatModule {}
