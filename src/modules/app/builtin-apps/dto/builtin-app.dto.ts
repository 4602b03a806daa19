import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsUUID } from 'class-validator';
import { AppModelSummaryDto } from 'src/modules/app/dto/app.dto';

export class BuiltinAppCategoryDto {
  @ApiProperty({ example: 'assistant', description: 'Key the apps refer to' }) category: string;
  @ApiProperty({ example: 'Assistants', description: 'What the console shows' }) name: string;
}

/** A template as the console lists it (CONSOLE-SHAPES §4.8). */
export class BuiltinAppDto {
  @ApiProperty({ format: 'uuid', description: 'Stable id; add-to-space takes it' }) id: string;
  @ApiProperty({ example: 'writing', description: 'A key of GET /builtin-apps/categories' })
  category: string;
  @ApiProperty({ description: 'The name the app gets once added' }) name: string;
  @ApiProperty({
    description: 'Absolute URL of the icon (GET /builtin-apps/:builtin_app_id/icon, public)',
  })
  icon: string;
  @ApiProperty() description: string;
  @ApiProperty({ type: AppModelSummaryDto, description: 'The model of its draft config' })
  model_config: AppModelSummaryDto;
  @ApiProperty({ description: 'Unix seconds: when the template was written' }) created_at: number;
}

export class AddBuiltinAppToSpaceDto {
  @ApiProperty({ format: 'uuid', description: 'The id of a builtin app (GET /builtin-apps)' })
  @IsUUID('all', { message: 'builtin_app_id must be a UUID' })
  @IsNotEmpty({ message: 'builtin_app_id is required' })
  builtin_app_id: string;
}
