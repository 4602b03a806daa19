import { AppBaseEntity } from '@app/database';
import { Column, Entity, Index } from 'typeorm';

/** A file an account uploaded: a document for a dataset, or an image (avatar, icons, chat). */
@Entity({ name: 'upload_files' })
export class UploadFileEntity extends AppBaseEntity {
  @Index('idx_upload_files_account_id')
  @Column({ type: 'uuid' })
  account_id: string;

  /** The name the browser sent, cleaned of paths and control characters. */
  @Column({ type: 'varchar', length: 255 })
  name: string;

  /** Storage key (libs/storage). */
  @Column({ type: 'varchar', length: 500 })
  key: string;

  @Column({ type: 'bigint', transformer: { to: (v: number) => v, from: (v: string) => Number(v) } })
  size: number;

  /** Lowercase, without the dot. */
  @Column({ type: 'varchar', length: 16 })
  extension: string;

  @Column({ type: 'varchar', length: 128 })
  mime_type: string;

  /** sha256 of the content, lowercase hex. */
  @Column({ type: 'varchar', length: 64 })
  hash: string;

  /** `document` or `image`. */
  @Column({ type: 'varchar', length: 16 })
  kind: 'document' | 'image';

  /**
   * Images only: the unguessable part of their public URL (`<img>` sends no token), 256 random
   * bits; null for documents, which only their owner can read.
   */
  @Index('uq_upload_files_public_token', { unique: true })
  @Column({ type: 'varchar', length: 64, nullable: true })
  public_token: string | null;
}
