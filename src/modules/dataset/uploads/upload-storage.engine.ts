import { AuthenticatedRequest, ValidateError } from '@app/common';
import { FileStorage, StorageError } from '@app/storage';
import type { Request } from 'express';
import type { StorageEngine } from 'multer';
import { randomUUID } from 'node:crypto';
import { cleanFileName, extensionOf } from './upload-rules';

/** What the engine adds to multer's file object. */
export interface StoredUpload {
  originalname: string;
  key: string;
  size: number;
  sha256: string;
}

function tooLarge(maxBytes: number): ValidateError {
  const mb = Math.round((maxBytes / (1024 * 1024)) * 10) / 10;
  return new ValidateError({ file: [`The file is larger than ${mb} MB`] });
}

/**
 * Streams the upload straight into FileStorage (never buffered whole in memory), hashing it on
 * the way and stopping at `maxBytes` with nothing kept. The key is the account's folder plus a
 * fresh uuid, so a file name can never steer where it lands.
 */
export class UploadStorageEngine implements StorageEngine {
  constructor(
    private readonly storage: FileStorage,
    private readonly maxBytes: number,
  ) {}

  _handleFile(
    req: Request,
    file: Express.Multer.File,
    cb: (error?: unknown, info?: Partial<Express.Multer.File>) => void,
  ): void {
    const accountId = (req as AuthenticatedRequest).principal?.accountId;
    if (!accountId) {
      file.stream.resume();
      cb(new Error('upload without an authenticated principal'));
      return;
    }
    const ext = extensionOf(cleanFileName(file.originalname));
    const key = `uploads/${accountId}/${randomUUID()}${ext ? `.${ext}` : ''}`;
    this.storage.write(key, file.stream, { maxBytes: this.maxBytes }).then(
      (stored) =>
        cb(null, {
          key: stored.key,
          size: stored.size,
          sha256: stored.sha256,
        } as Partial<Express.Multer.File>),
      (err: unknown) => {
        file.stream.resume(); // drain what is left so busboy can finish the request
        cb(err instanceof StorageError && err.code === 'too_large' ? tooLarge(this.maxBytes) : err);
      },
    );
  }

  _removeFile(_req: Request, file: Express.Multer.File, cb: (error: Error | null) => void): void {
    const key = (file as Partial<StoredUpload>).key;
    if (!key) return cb(null);
    this.storage.delete(key).then(
      () => cb(null),
      (err: unknown) => cb(err as Error),
    );
  }
}
