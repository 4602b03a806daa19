import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';

/** A remote MCP server an account added by URL; its tools are rows of mcp_tools. */
@Entity({ name: 'mcp_providers' })
@Index('uq_mcp_providers_account_name', ['account_id', 'name'], { unique: true })
export class McpProviderEntity extends AppBaseEntity {
  @Index('idx_mcp_providers_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'varchar', length: 30 })
  name: string;

  @Column({ type: 'varchar', length: 1000, default: '' })
  icon: string;

  @Column({ type: 'text', default: '' })
  description: string;

  @Column({ type: 'varchar', length: 2000 })
  url: string;

  /** Detected at create/update/refresh: `streamable_http` or `sse`. */
  @Column({ type: 'varchar', length: 32 })
  transport: string;

  /** SecretBox-sealed JSON `[{key, value}]` sent with every request to the server. */
  @Column({ type: 'text' })
  headers: string;

  /** Why the last connection failed; null when it worked. */
  @Column({ type: 'varchar', length: 500, nullable: true })
  last_error: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  tools_refreshed_at: Date | null;
}
