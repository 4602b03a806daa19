import {
  AdminOnly,
  ApiEnvelope,
  bearerToken,
  ConsolePost,
  REDIS_FAST,
  UnauthorizedError,
} from '@app/common';
import type { RedisClient } from '@app/common';
import { AppConfig } from '@app/config';
import { Controller, Inject, Req } from '@nestjs/common';
import { ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import {
  QUEUE_BOARD_ROUTE,
  QUEUE_BOARD_TICKET_TTL_MS,
  QueueBoardTickets,
} from './queue-board.tickets';

export class QueueBoardTicketDto {
  @ApiProperty({
    example: '/admin/queues?ticket=Q2x...',
    description:
      'Path (on this API) of the queue dashboard with a one-time ticket: open it in a browser tab within a minute',
  })
  url: string;

  @ApiProperty({ example: 1767225600, description: 'When the ticket expires (Unix seconds)' })
  expire_at: number;
}

/** Opens the queue dashboard (scale mode) for an admin: a browser tab cannot send the token. */
@ApiTags('system')
@Controller('admin/queue-board')
export class QueueBoardController {
  private readonly tickets: QueueBoardTickets;

  constructor(@Inject(REDIS_FAST) redis: RedisClient, config: AppConfig) {
    if (!redis) throw new Error('The queue dashboard needs REDIS_URL');
    this.tickets = new QueueBoardTickets(redis, config.env.REDIS_PREFIX);
  }

  @AdminOnly()
  @ConsolePost('ticket', 'Queue dashboard link created')
  @ApiOperation({
    operationId: 'createQueueBoardTicket',
    summary: 'One-time link to the queue dashboard (admins, scale mode)',
  })
  @ApiEnvelope(QueueBoardTicketDto)
  async ticket(@Req() req: Request): Promise<QueueBoardTicketDto> {
    // The guard verified this very token; the board re-verifies it on every request.
    const token = bearerToken(req.headers.authorization);
    if (!token) throw new UnauthorizedError();
    const ticket = await this.tickets.issue(token);
    return {
      url: `${QUEUE_BOARD_ROUTE}?ticket=${ticket}`,
      expire_at: Math.floor((Date.now() + QUEUE_BOARD_TICKET_TTL_MS) / 1000),
    };
  }
}
