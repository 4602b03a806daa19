import { ApiEnvelope, Public } from '@app/common';
import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { PingDto } from './dto/system.dto';

@ApiTags('system')
@Controller()
export class SystemController {
  /** Liveness check of the console API, answered in the envelope. */
  @Public()
  @Get('ping')
  @ApiOperation({ operationId: 'ping', summary: 'Ping (envelope)' })
  @ApiEnvelope(PingDto)
  ping(): PingDto {
    return { ping: 'pong' };
  }
}
