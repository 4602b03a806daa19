import {
  ConsolePost,
  NotFoundError,
  PaginatorReqDto,
  Public,
  RawResponse,
  SearchPaginatorReqDto,
  SseStream,
  toPage,
  ToBoolean,
} from '@app/common';
import { AppConfig } from '@app/config';
import { Body, Controller, Get, Module, Param, Query, Req, Res } from '@nestjs/common';
import { Type } from 'class-transformer';
import {
  IsBoolean,
  IsEmail,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import type { Request, Response } from 'express';

class AddressDto {
  @IsString({ message: 'city must be a string' })
  city: string;
}

export class CreateThingDto {
  @IsString({ message: 'name must be a string' })
  @Length(1, 20, { message: 'name must be 1-20 characters' })
  name: string;

  @IsEmail({}, { message: 'email must be an email address' })
  email: string;

  @IsOptional()
  @IsInt({ message: 'age must be an integer' })
  @Min(0, { message: 'age must not be negative' })
  @Max(150, { message: 'age must be at most 150' })
  age?: number;

  @IsOptional()
  @ValidateNested()
  @Type(() => AddressDto)
  address?: AddressDto;
}

class ListThingsDto extends SearchPaginatorReqDto {
  @IsOptional()
  @ToBoolean()
  @IsBoolean({ message: 'is_pinned must be true or false' })
  is_pinned?: boolean;
}

/** What the SSE endpoints observed, for assertions. */
export const sseState = { aborted: 0, ticks: 0 };

/** Routes that exercise the infrastructure (envelope, validation, paging, SSE) in e2e tests. */
@Public()
@Controller()
class FixtureController {
  constructor(private readonly config: AppConfig) {}

  @ConsolePost('fixture/things', 'Thing created')
  create(@Body() body: CreateThingDto): CreateThingDto {
    return body;
  }

  @Get('fixture/things')
  list(@Query() query: ListThingsDto) {
    const total = 45;
    const start = (query.current_page - 1) * query.page_size;
    const list = Array.from(
      { length: Math.max(0, Math.min(query.page_size, total - start)) },
      (_, i) => ({ n: start + i }),
    );
    return {
      ...toPage(list, total, query),
      echo: { search_word: query.search_word ?? null, is_pinned: query.is_pinned ?? null },
    };
  }

  @Get('fixture/empty-list')
  empty(@Query() query: PaginatorReqDto) {
    return toPage([], 0, query);
  }

  @ConsolePost('fixture/action', 'Action done')
  action(@Body() body: Record<string, unknown>) {
    return { received: body ?? null };
  }

  // Not `:id`: an id param that is not a UUID never reaches the handler (RouteParamsPipe).
  @Get('fixture/missing/:number')
  missing(@Param('number') n: string) {
    throw new NotFoundError(`Thing ${n} does not exist`);
  }

  @Get('fixture/crash')
  crash(): never {
    throw new Error('secret internal detail at /srv/db.ts:42');
  }

  @Get('openapi/fixture/missing')
  serviceMissing(): never {
    throw new NotFoundError('App does not exist');
  }

  @ConsolePost('openapi/fixture/things', 'Thing created')
  serviceCreate(@Body() body: CreateThingDto): CreateThingDto {
    return body;
  }

  @RawResponse()
  @ConsolePost('v1/fixture/things', 'Thing created')
  openaiCreate(@Body() body: CreateThingDto): CreateThingDto {
    return body;
  }

  /** Streams `count` frames `interval_ms` apart, then ends; `fail_at` sends an error frame. */
  @ConsolePost('fixture/stream', 'Streamed')
  async stream(
    @Req() req: Request,
    @Res() res: Response,
    @Body() body: { count?: number; interval_ms?: number; fail_at?: number; ping_event?: boolean },
  ) {
    const sse = new SseStream(req, res, {
      pingIntervalMs: this.config.env.SSE_PING_INTERVAL_MS,
      pingEvent: body.ping_event === true,
    }).open();
    const count = body.count ?? 3;
    for (let i = 0; i < count; i++) {
      if (sse.signal.aborted) {
        sseState.aborted += 1;
        return;
      }
      if (body.fail_at === i) return sse.fail('model provider went away', { id: 'm1' });
      sseState.ticks += 1;
      sse.send('agent_message', {
        id: 'm1',
        event: 'agent_message',
        thought: `tok${i}\nline`,
        answer: `tok${i}`,
      });
      await new Promise((r) => setTimeout(r, body.interval_ms ?? 10));
    }
    if (sse.signal.aborted) sseState.aborted += 1;
    sse.send('agent_end', { id: 'm1', event: 'agent_end' });
    sse.close();
  }
}

@Module({ controllers: [FixtureController] })
export class FixtureModule {}
