import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';

/** One tool an MCP server listed, as of the provider's last refresh. */
@Entity({ name: 'mcp_tools' })
@Index('uq_mcp_tools_provider_name', ['provider_id', 'name'], { unique: true })
export class McpToolEntity extends AppBaseEntity {
  @Index('idx_mcp_tools_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  @Column({ type: 'uuid' })
  provider_id: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  @Column({ type: 'text', default: '' })
  description: string;

  /** The tool's JSON Schema for its arguments, as the server listed it. */
  @Column({ type: 'jsonb' })
  input_schema: Record<string, unknown>;

  /**
   * The console's `inputs[]`, in the server's property order (jsonb keeps no key order, so the
   * schema's own order is lost once stored).
   */
  @Column({ type: 'jsonb', default: () => "'[]'" })
  inputs: Array<{ name: string; description: string; required: boolean; type: string }>;

  /** MCP tool annotations (readOnlyHint, destructiveHint, ...), as listed. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  annotations: Record<string, unknown>;
}
