import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';

/** An API tool provider: one OpenAPI (or LLMOps-format) document of an account, and its headers. */
@Entity({ name: 'api_tool_providers' })
@Index('uq_api_tool_providers_account_name', ['account_id', 'name'], { unique: true })
export class ApiToolProviderEntity extends AppBaseEntity {
  @Index('idx_api_tool_providers_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'varchar', length: 30 })
  name: string;

  @Column({ type: 'varchar', length: 1000 })
  icon: string;

  /** The document's `description` (or `info.description`). */
  @Column({ type: 'text', default: '' })
  description: string;

  /** The document as the user gave it (JSON or YAML text). */
  @Column({ type: 'text' })
  openapi_schema: string;

  /** SecretBox-sealed JSON `[{key, value}]`: auth headers sent with every call. */
  @Column({ type: 'text' })
  headers_sealed: string;
}
