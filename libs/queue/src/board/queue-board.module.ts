import type * as BullMQAdapterModule from '@bull-board/api/bullMQAdapter';
import type * as BoardExpress from '@bull-board/express';
import type * as BoardNest from '@bull-board/nestjs';
import { DynamicModule, Module } from '@nestjs/common';
import { QUEUE_NAMES } from '../queue.types';
import { QueueBoardAuthMiddleware } from './queue-board-auth.middleware';
import { QueueBoardController } from './queue-board.controller';
import { QUEUE_BOARD_ROUTE } from './queue-board.tickets';

/**
 * The admin-only queue dashboard (bull-board) at /admin/queues: scale mode, api role. Read-only:
 * the `queue_jobs` rows are the truth, so retries and cancels go through the JobQueue, never
 * straight to BullMQ. `register()` loads bull-board (and BullMQ), which the embedded mode never
 * needs, so importing this library does not.
 */
@Module({})
export class QueueBoardModule {
  static register(): DynamicModule {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { BullMQAdapter } =
      require('@bull-board/api/bullMQAdapter') as typeof BullMQAdapterModule;
    const { ExpressAdapter } = require('@bull-board/express') as typeof BoardExpress;
    const { BullBoardModule } = require('@bull-board/nestjs') as typeof BoardNest;
    /* eslint-enable @typescript-eslint/no-require-imports */
    // @bull-board/express pins its own @bull-board/api (9.10.1 beside our 9.10.2): same classes
    // at run time, distinct private members in the type declarations.
    const adapter = ExpressAdapter as unknown as BoardNest.BullBoardModuleOptions['adapter'];
    return {
      module: QueueBoardModule,
      imports: [
        BullBoardModule.forRoot({
          route: QUEUE_BOARD_ROUTE,
          adapter,
          middleware: QueueBoardAuthMiddleware,
          boardOptions: { uiConfig: { boardTitle: 'LLMOps queues' } },
        }),
        BullBoardModule.forFeature(
          ...QUEUE_NAMES.map((name) => ({
            name,
            adapter: BullMQAdapter,
            options: { readOnlyMode: true },
          })),
        ),
      ],
      controllers: [QueueBoardController],
    };
  }
}
