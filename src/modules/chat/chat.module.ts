import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppsModule } from '../app/app.module';
import { DatasetModule } from '../dataset/dataset.module';
import { MESSAGE_LOOKUP, type MessageLookup } from '../model/ai/message-lookup';
import { ModelModule } from '../model/model.module';
import { ToolModule } from '../tool/tool.module';
import { AgentRunner } from './agent/agent-runner.service';
import { AgentTasks } from './agent/agent-tasks.service';
import { AgentToolFactory } from './agent/agent-tools.service';
import { ChatTurnService } from './agent/chat-turn.service';
import { AssistantAgentController } from './assistant-agent.controller';
import { AssistantAgentService } from './assistant-agent.service';
import { ConversationController } from './conversation.controller';
import { ConversationService } from './conversation.service';
import { DebugChatController } from './debug-chat.controller';
import { DebugChatService } from './debug-chat.service';
import { ConversationEntity } from './entities/conversation.entity';
import { MessageAgentThoughtEntity } from './entities/message-agent-thought.entity';
import { MessageEntity } from './entities/message.entity';
import { EndUserEntity } from './entities/end-user.entity';
import { EndUserService } from './end-user.service';
import { OpenAiCompatController } from './openai/openai-compat.controller';
import { OpenAiCompatService } from './openai/openai-compat.service';
import { ConversationAccess } from './web-app/conversation-access.service';
import { WebAppIdentity } from './web-app/web-app-identity.service';
import { WebAppController } from './web-app/web-app.controller';
import { WebAppService } from './web-app/web-app.service';
import { OpenAiChatService } from './openai/openai-chat.service';
import { ServiceChatController } from './service-api/service-chat.controller';
import { ServiceChatService } from './service-api/service-chat.service';

/**
 * Conversations and messages (the store of every chat surface and the console's routes on it)
 * and the agent that answers in them: the runner (LangChain's createAgent, a ReAct fallback),
 * the turn (frames, limits, stop by task id, storage, memory), the debug chat and the assistant
 * agent. Other surfaces (web apps, the service API) build on ChatTurnService and AgentToolFactory.
 * Global only for MESSAGE_LOOKUP, the port the AI helpers (model module, which this module
 * depends on) read messages through.
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
    ToolModule,
    DatasetModule,
    AppsModule,
  ],
  controllers: [
    ConversationController,
    AssistantAgentController,
    DebugChatController,
    OpenAiCompatController,
    WebAppController,
    ServiceChatController,
  ],
  providers: [
    ConversationService,
    EndUserService,
    OpenAiCompatService,
    OpenAiChatService,
    ServiceChatService,
    AgentRunner,
    AgentTasks,
    AgentToolFactory,
    ChatTurnService,
    DebugChatService,
    AssistantAgentService,
    WebAppIdentity,
    WebAppService,
    ConversationAccess,
    {
      provide: MESSAGE_LOOKUP,
      inject: [ConversationService],
      useFactory: (c: ConversationService): MessageLookup => ({
        exchange: (accountId, messageId) => c.exchange(accountId, messageId),
      }),
    },
  ],
  exports: [
    ConversationService,
    EndUserService,
    MESSAGE_LOOKUP,
    ChatTurnService,
    AgentToolFactory,
    AgentTasks,
  ],
})
export class ChatModule {}
