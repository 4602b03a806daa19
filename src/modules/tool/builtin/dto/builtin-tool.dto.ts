import { ApiProperty } from '@nestjs/swagger';

export class ToolParamOptionDto {
  @ApiProperty({
    description: 'The value stored when the option is chosen',
    oneOf: [{ type: 'string' }, { type: 'number' }],
  })
  value: string | number;
  @ApiProperty({ description: 'What the console shows' }) label: string;
}

/** A setting the user edits when binding the tool. */
export class ToolParamDto {
  @ApiProperty({ description: 'Key in the bound tool’s `params`' }) name: string;
  @ApiProperty({ description: 'Label shown in the console' }) label: string;
  @ApiProperty({ enum: ['string', 'number', 'boolean', 'select'], description: 'Kind of input' })
  type: string;
  @ApiProperty({ description: 'Whether a value is needed (the default counts)' }) required: boolean;
  @ApiProperty({
    description: 'Default value; null when none',
    nullable: true,
    oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }],
  })
  default: string | number | boolean | null;
  @ApiProperty({
    description: 'Lowest number allowed (numbers only)',
    type: Number,
    nullable: true,
  })
  min: number | null;
  @ApiProperty({
    description: 'Highest number allowed (numbers only)',
    type: Number,
    nullable: true,
  })
  max: number | null;
  @ApiProperty({ type: [ToolParamOptionDto], description: 'Choices of a select; [] otherwise' })
  options: ToolParamOptionDto[];
}

/** An argument the LLM fills in. */
export class ToolInputDto {
  @ApiProperty({ description: 'Argument name' }) name: string;
  @ApiProperty({ description: 'What the argument is for ("" if undescribed)' }) description: string;
  @ApiProperty({ description: 'Whether the LLM must fill it in' }) required: boolean;
  @ApiProperty({
    enum: ['str', 'int', 'float', 'bool'],
    description: 'Python type name, as the console expects',
  })
  type: string;
}

export class BuiltinToolDto {
  @ApiProperty({ description: 'Tool name, unique in its provider' }) name: string;
  @ApiProperty({ description: 'Label shown in the console' }) label: string;
  @ApiProperty({ description: 'What the tool does (the LLM reads it too)' }) description: string;
  @ApiProperty({ type: [ToolParamDto], description: 'Settings bound with the tool' })
  params: ToolParamDto[];
  @ApiProperty({ type: [ToolInputDto], description: 'Arguments the LLM fills in' })
  inputs: ToolInputDto[];
}

export class BuiltinProviderSummaryDto {
  @ApiProperty({ description: 'Provider key; its icon is at /builtin-tools/{name}/icon' })
  name: string;
  @ApiProperty({ description: 'Label shown in the console' }) label: string;
  @ApiProperty({ description: 'What the provider offers' }) description: string;
  @ApiProperty({ description: 'CSS colour behind the icon', example: '#E5E7EB' })
  background: string;
  @ApiProperty({ description: 'A category key of /builtin-tools/categories' }) category: string;
}

export class BuiltinProviderDto extends BuiltinProviderSummaryDto {
  @ApiProperty({ description: 'Always 0: builtin providers ship with the service' })
  created_at: number;
  @ApiProperty({ type: [BuiltinToolDto], description: 'The provider’s tools' })
  tools: BuiltinToolDto[];
}

export class BuiltinToolDetailDto extends BuiltinToolDto {
  @ApiProperty({ type: BuiltinProviderSummaryDto, description: 'The provider (without icon)' })
  provider: BuiltinProviderSummaryDto;
  @ApiProperty({ description: 'Always 0: builtin tools ship with the service' }) created_at: number;
}

export class BuiltinCategoryDto {
  @ApiProperty({ description: 'Category key', example: 'search' }) category: string;
  @ApiProperty({ description: 'Display name' }) name: string;
  @ApiProperty({ description: 'Inline SVG markup (the console injects it with v-html)' })
  icon: string;
}
