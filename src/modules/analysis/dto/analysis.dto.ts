import { ApiProperty } from '@nestjs/swagger';

/** One overview indicator of the last 7 full days. */
export class IndicatorDto {
  @ApiProperty({ description: 'The value over the last 7 full days (today excluded)' })
  data: number;

  @ApiProperty({
    description:
      'Period over period: (this 7 days − the 7 before) ÷ the 7 before; 0 when the 7 before were 0. The console shows it ×100 %',
  })
  pop: number;
}

/** A daily series of the last 7 full days. */
export class TrendDto {
  @ApiProperty({
    type: [Number],
    description: 'The Unix-second start (local midnight) of each of the 7 days, oldest first',
  })
  x_axis: number[];

  @ApiProperty({ type: [Number], description: 'The value of each day' })
  y_axis: number[];
}

/**
 * An app's statistics (CONSOLE-SHAPES §4.7): the app's answered messages of the last 7 full
 * days, debug chat included, compared with the 7 days before, and daily trends.
 */
export class AppAnalysisDto {
  @ApiProperty({ type: IndicatorDto, description: 'Messages (one query and its answer each)' })
  total_messages: IndicatorDto;

  @ApiProperty({
    type: IndicatorDto,
    description: 'Distinct accounts and end users who sent messages',
  })
  active_accounts: IndicatorDto;

  @ApiProperty({
    type: IndicatorDto,
    description: 'Messages ÷ distinct conversations (0 without conversations)',
  })
  avg_of_conversation_messages: IndicatorDto;

  @ApiProperty({
    type: IndicatorDto,
    description: 'Σ tokens (query and answer) ÷ Σ latency in seconds (0 without latency)',
  })
  token_output_rate: IndicatorDto;

  @ApiProperty({ type: IndicatorDto, description: 'Σ price, in the model catalog’s currency' })
  cost_consumption: IndicatorDto;

  @ApiProperty({ type: TrendDto, description: 'Messages per day' })
  total_messages_trend: TrendDto;

  @ApiProperty({ type: TrendDto, description: 'Distinct senders per day' })
  active_accounts_trend: TrendDto;

  @ApiProperty({ type: TrendDto, description: 'Messages ÷ distinct conversations per day' })
  avg_of_conversation_messages_trend: TrendDto;

  @ApiProperty({ type: TrendDto, description: 'Σ price per day' })
  cost_consumption_trend: TrendDto;
}
