import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { BullBoardModule, BullBoardModuleOptions } from '@bull-board/nestjs';
import { Module } from '@nestjs/common';
import { QUEUE_NAMES } from '../queue.types';
import { QueueBoardAuthMiddleware } from './queue-board-auth.middleware';
import { QueueBoardController } from './queue-board.controller';
import { QUEUE_BOARD_ROUTE } from './queue-board.tickets';

/**
 * @bull-board/express pins its own @bull-board/api (9.10.1 beside our 9.10.2): same classes at
 * run time, distinct private members in the type declarations.
 */
const BoardExpressAdapter = ExpressAdapter as unknown as BullBoardModuleOptions['adapter'];

/**
 * The admin-only queue dashboard (bull-board) at /admin/queues: scale mode, api role. Read-only:
 * the `queue_jobs` rows are the truth, so retries and cancels go through the JobQueue, never
 * straight to BullMQ.
 */
@Module({
  imports: [
    BullBoardModule.forRoot({
      route: QUEUE_BOARD_ROUTE,
      adapter: BoardExpressAdapter,
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
})
export class QueueBoardModule {}
