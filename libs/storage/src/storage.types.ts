import type { Readable } from 'node:stream';

/** DI token for the one FileStorage of the process (`@Inject(FILE_STORAGE)`). */
export const FILE_STORAGE = 'FILE_STORAGE';

/** What a finished write reports: callers keep size and sha256 on their row. */
export interface StoredFile {
  key: string;
  size: number;
  /** Lowercase hex. */
  sha256: string;
}

export interface StoredFileStat {
  key: string;
  size: number;
  modifiedAt: Date;
}

export interface WriteOptions {
  /** Abort with `too_large` once more bytes than this arrive; nothing is kept. */
  maxBytes?: number;
  /** Reject with `checksum_mismatch` (and keep nothing) unless the content hashes to this (hex). */
  expectedSha256?: string;
}

/** Inclusive byte range, as in HTTP `Range: bytes=start-end`; `end` defaults to the last byte. */
export interface ByteRange {
  start: number;
  end?: number;
}

/**
 * Where uploaded documents, downloaded model files and other blobs live. Keys are relative POSIX
 * paths (`datasets/<id>/<file>`), so a local directory and an S3 bucket can both implement it.
 */
export interface FileStorage {
  /** Stores the whole source under `key`, replacing any file there; atomic: all or nothing. */
  write(key: string, source: Readable | Buffer | string, opts?: WriteOptions): Promise<StoredFile>;
  /** Streams the file (or a range of it); rejects with `not_found` when it does not exist. */
  read(key: string, range?: ByteRange): Promise<Readable>;
  stat(key: string): Promise<StoredFileStat | null>;
  exists(key: string): Promise<boolean>;
  /** True when a file was removed, false when there was none. */
  delete(key: string): Promise<boolean>;
  /** Removes every file whose key starts with `prefix` (S3 semantics); returns how many. */
  deletePrefix(prefix: string): Promise<number>;
  /**
   * A local filesystem path for the key, for consumers that need one (a model runtime loading a
   * GGUF). An object-store implementation would materialise the file first or refuse.
   */
  resolvePath(key: string): string;
}

export type StorageErrorCode =
  'too_large' | 'checksum_mismatch' | 'invalid_key' | 'invalid_range' | 'not_found';

/** Storage failures callers are expected to handle; modules map `code` to their own exceptions. */
export class StorageError extends Error {
  override readonly name = 'StorageError';

  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
