import { AppBaseEntity } from '@app/database';
import type { ToolInputSchema } from 'src/modules/tool/runtime/tool.types';
import { Column, Entity, Index } from 'typeorm';
import type { ApiToolParameter, BodyType } from '../openapi/api-tool.types';

/** One operation of an API tool provider; replaced as a whole when the provider is updated. */
@Entity({ name: 'api_tools' })
@Index('uq_api_tools_provider_name', ['provider_id', 'name'], { unique: true })
export class ApiToolEntity extends AppBaseEntity {
  @Index('idx_api_tools_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'uuid' })
  provider_id: string;

  /** The operationId. */
  @Column({ type: 'varchar', length: 200 })
  name: string;

  @Column({ type: 'text', default: '' })
  description: string;

  /** Upper-case HTTP method. */
  @Column({ type: 'varchar', length: 10 })
  method: string;

  @Column({ type: 'text' })
  server_url: string;

  /** Path template, e.g. `/pets/{id}`. */
  @Column({ type: 'text' })
  path: string;

  @Column({ type: 'jsonb', default: () => "'[]'" })
  parameters: ApiToolParameter[];

  /** JSON Schema of the arguments, as the runtime checks them and the model sees them. */
  @Column({ type: 'jsonb' })
  input_schema: ToolInputSchema;

  @Column({ type: 'varchar', length: 16, default: '' })
  body_type: BodyType;

  @Column({ type: 'varchar', length: 100, default: '' })
  body_content_type: string;

  /** Order in the document. */
  @Column({ type: 'integer', default: 0 })
  position: number;
}
