import { ApiProperty } from '@nestjs/swagger';

export class PingDto {
  @ApiProperty({ example: 'pong', description: 'Always "pong"' })
  ping: string;
}
