import { NotFoundError, toUnix, ValidateError } from '@app/common';
import { AppConfig } from '@app/config';
import { FILE_STORAGE, type FileStorage } from '@app/storage';
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { Repository } from 'typeorm';
import type { UploadFileDto } from './dto/upload-file.dto';
import { UploadFileEntity } from './entities/upload-file.entity';
import type { StoredUpload } from './upload-storage.engine';
import {
  cleanFileName,
  extensionProblem,
  extensionOf,
  RULES_BY_KIND,
  isUtf8Text,
  looksLikeSvg,
  type UploadKind,
  type UploadRule,
} from './upload-rules';

const RULES = RULES_BY_KIND;
/** Largest image sent inline to a model (base64 grows it by a third). */
const INLINE_IMAGE_MAX_BYTES = 8 * 1024 * 1024;

/** "812 bytes", "3.4 KB", "9.9 GB": a size in the unit that reads best. */
function sizeText(bytes: number): string {
  const units = ['KB', 'MB', 'GB', 'TB'];
  if (bytes < 1024) return `${bytes} bytes`;
  let n = bytes / 1024;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(1)} ${units[i]}`;
}

/** file-type is ESM-only; loaded once, on the first upload. */
let sniffer: Promise<typeof import('file-type')> | undefined;
async function sniff(head: Uint8Array): Promise<string | undefined> {
  sniffer ??= import('file-type');
  const { fileTypeFromBuffer } = await sniffer;
  return (await fileTypeFromBuffer(head))?.mime;
}

/**
 * Uploaded files: checked by extension and by content (magic bytes, or UTF-8 text for text
 * formats), hashed, kept in FileStorage, and readable only by their owner — images also through
 * an unguessable public URL, because <img> sends no token.
 */
@Injectable()
export class UploadFileService {
  constructor(
    @InjectRepository(UploadFileEntity) private readonly repo: Repository<UploadFileEntity>,
    @Inject(FILE_STORAGE) private readonly storage: FileStorage,
    private readonly config: AppConfig,
  ) {}

  /** Verifies a stored upload and records it; refused content is deleted. */
  async accept(
    accountId: string,
    kind: UploadKind,
    file: StoredUpload | undefined,
  ): Promise<UploadFileEntity> {
    if (!file)
      throw new ValidateError({ file: ['file is required (a multipart field named "file")'] });
    const name = cleanFileName(file.originalname);
    const ext = extensionOf(name);
    try {
      const problem = extensionProblem(kind, name);
      if (problem) throw new ValidateError({ file: [problem] });
      if (file.size === 0) throw new ValidateError({ file: ['The file is empty'] });
      await this.checkContent(RULES[kind][ext], ext, file);
    } catch (err) {
      await this.storage.delete(file.key);
      throw err;
    }
    const rule = RULES[kind][ext];
    const row = this.repo.create({
      account_id: accountId,
      name,
      key: file.key,
      size: file.size,
      extension: ext,
      mime_type: rule.mime,
      hash: file.sha256,
      kind,
      public_token: kind === 'image' ? randomBytes(32).toString('base64url') : null,
    });
    try {
      return await this.repo.manager.transaction(async (m) => {
        const quota = this.config.env.UPLOAD_QUOTA_BYTES;
        if (quota > 0) {
          // Per account, one upload at a time: concurrent uploads cannot all fit the last room.
          await m.query(`SELECT pg_advisory_xact_lock(hashtext('upload-quota:' || $1))`, [
            accountId,
          ]);
          const [{ used }] = await m.query<Array<{ used: string }>>(
            'SELECT COALESCE(SUM(size), 0) AS used FROM upload_files WHERE account_id = $1',
            [accountId],
          );
          if (Number(used) + file.size > quota) {
            throw new ValidateError({
              file: [
                `Your uploads would use ${sizeText(Number(used) + file.size)} of the ${sizeText(quota)} allowed: delete documents or datasets you no longer need`,
              ],
            });
          }
        }
        return m.save(row);
      });
    } catch (err) {
      await this.storage.delete(file.key);
      throw err;
    }
  }

  /**
   * Deletes up to `limit` document uploads created before `before` that no document uses (row
   * and bytes); returns how many. Images stay: avatars and icons use them by URL.
   */
  async deleteUnattached(before: Date, limit: number): Promise<number> {
    const rows = await this.repo.query<[Array<{ key: string }>, number] | Array<{ key: string }>>(
      `DELETE FROM upload_files f
        WHERE f.id IN (
          SELECT u.id FROM upload_files u
           WHERE u.kind = 'document' AND u.created_at < $1
             AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.upload_file_id = u.id)
           LIMIT $2)
          AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.upload_file_id = f.id)
        RETURNING f.key`,
      [before, limit],
    );
    return this.removeFiles(rows);
  }

  /** The bytes of rows a DELETE … RETURNING key removed; how many. */
  private async removeFiles(
    rows: [Array<{ key: string }>, number] | Array<{ key: string }>,
  ): Promise<number> {
    // TypeORM's postgres driver answers [rows, count] for DELETE … RETURNING.
    const deleted = (Array.isArray(rows[0]) ? rows[0] : rows) as Array<{ key: string }>;
    for (const r of deleted) await this.storage.delete(r.key);
    return deleted.length;
  }

  /** The account's upload; not_found for a missing one or another account's. */
  async get(accountId: string, id: string): Promise<UploadFileEntity> {
    const row = await this.repo.findOneBy({ id, account_id: accountId });
    if (!row) throw new NotFoundError('The file does not exist');
    return row;
  }

  /** Several of the account's uploads at once (datasets take 1-10); others are left out. */
  async getMany(accountId: string, ids: string[]): Promise<UploadFileEntity[]> {
    if (ids.length === 0) return [];
    return this.repo
      .createQueryBuilder('f')
      .where('f.account_id = :accountId AND f.id IN (:...ids)', { accountId, ids })
      .getMany();
  }

  /** An upload by id whoever owns it (jobs that already checked ownership). */
  async byId(id: string): Promise<UploadFileEntity | null> {
    return this.repo.findOneBy({ id });
  }

  /**
   * Deletes a document upload that no document uses any more (row and bytes). Returns whether it
   * was deleted.
   */
  async deleteIfUnused(id: string): Promise<boolean> {
    const rows = await this.repo.query<[Array<{ key: string }>, number] | Array<{ key: string }>>(
      `DELETE FROM upload_files f
        WHERE f.id = $1 AND f.kind = 'document'
          AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.upload_file_id = f.id)
        RETURNING f.key`,
      [id],
    );
    return (await this.removeFiles(rows)) > 0;
  }

  /** The whole file (bounded by UPLOAD_MAX_BYTES when it was stored), for the parsers. */
  async bytes(file: UploadFileEntity): Promise<Buffer> {
    return buffer(await this.storage.read(file.key));
  }

  /** The file's bytes as a stream (the owner's download). */
  open(file: UploadFileEntity): Promise<Readable> {
    return this.storage.read(file.key);
  }

  /** An image by the token of its public URL (`<token>.<ext>`). */
  async publicImage(tokenWithExt: string): Promise<{ file: UploadFileEntity; body: Readable }> {
    const token = tokenWithExt.replace(/\.[a-z0-9]{1,8}$/i, '');
    const file = /^[A-Za-z0-9_-]{43}$/.test(token)
      ? await this.repo.findOneBy({ public_token: token, kind: 'image' })
      : null;
    if (!file) throw new NotFoundError('The image does not exist');
    return { file, body: await this.storage.read(file.key) };
  }

  /**
   * An image of ours (`…/upload-files/images/<token>.<ext>`, whatever host the URL names) as a
   * `data:` URL, for a model: a provider cannot fetch a URL of a deployment it cannot reach (a
   * laptop, a private network). Null for any other URL, an SVG (no model reads one) or an image
   * past INLINE_IMAGE_MAX_BYTES: those go as URLs.
   */
  async imageDataUrl(url: string): Promise<string | null> {
    if (!URL.canParse(url)) return null;
    const m = /\/upload-files\/images\/([A-Za-z0-9_-]{43})\.[a-z0-9]{1,8}$/i.exec(
      new URL(url).pathname,
    );
    if (!m) return null;
    const file = await this.repo.findOneBy({ public_token: m[1], kind: 'image' });
    if (!file || file.mime_type === 'image/svg+xml' || file.size > INLINE_IMAGE_MAX_BYTES)
      return null;
    return `data:${file.mime_type};base64,${(await this.bytes(file)).toString('base64')}`;
  }

  /** Absolute, because the console runs on another origin and puts it in <img src>. */
  imageUrl(file: UploadFileEntity, requestOrigin: string): string {
    const base = (this.config.env.PUBLIC_BASE_URL ?? requestOrigin).replace(/\/+$/, '');
    return `${base}/upload-files/images/${file.public_token}.${file.extension}`;
  }

  toDto(f: UploadFileEntity): UploadFileDto {
    return {
      id: f.id,
      account_id: f.account_id,
      name: f.name,
      key: f.key,
      size: f.size,
      extension: f.extension,
      mime_type: f.mime_type,
      hash: f.hash,
      created_at: toUnix(f.created_at),
    };
  }

  private async checkContent(rule: UploadRule, ext: string, file: StoredUpload): Promise<void> {
    const mismatch = (what: string) =>
      new ValidateError({
        file: [`The content of "${cleanFileName(file.originalname)}" is not ${what}`],
      });
    if (rule.sniffed.length === 0) {
      // Text formats: the whole file (bounded by the upload limit) must be UTF-8 text.
      const bytes = await buffer(await this.storage.read(file.key));
      const sniffed = await sniff(bytes.subarray(0, 4100));
      // file-type reports some text formats (xml); only binary signatures disqualify.
      if (
        (sniffed && !sniffed.startsWith('application/xml') && !sniffed.startsWith('text/')) ||
        !isUtf8Text(bytes)
      )
        throw mismatch(`a UTF-8 text file (.${ext})`);
      if (ext === 'svg' && !looksLikeSvg(bytes.toString('utf8'))) throw mismatch('an SVG image');
      return;
    }
    const head = await buffer(
      await this.storage.read(file.key, { start: 0, end: Math.min(file.size, 4100) - 1 }),
    );
    const sniffed = await sniff(head);
    if (!sniffed || !rule.sniffed.includes(sniffed)) throw mismatch(`a .${ext} file`);
  }
}
