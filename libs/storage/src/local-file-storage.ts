import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  ByteRange,
  FileStorage,
  StorageError,
  StoredFile,
  StoredFileStat,
  WriteOptions,
} from './storage.types';

/** In-progress writes; hidden and unlike any key we hand out, so a sweep can find leftovers. */
const TEMP_FILE = /^\.[0-9a-f-]{36}\.tmp$/;
const MAX_KEY_LENGTH = 1024;

// Duck-typed: fs errors may come from another realm (jest's VM context), failing `instanceof Error`.
const isErrno = (err: unknown, ...codes: string[]): boolean =>
  typeof err === 'object' &&
  err !== null &&
  codes.includes(String((err as NodeJS.ErrnoException).code));

/**
 * FileStorage on a local directory (`<STORAGE_DIR>/files`). Writes go to a temp file beside the
 * target and are renamed into place, so readers never see a partial file, even after a crash.
 */
export class LocalFileStorage implements FileStorage {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  async write(
    key: string,
    source: Readable | Buffer | string,
    opts: WriteOptions = {},
  ): Promise<StoredFile> {
    const target = this.toPath(key);
    const { maxBytes, expectedSha256 } = opts;
    if (maxBytes !== undefined && (!Number.isSafeInteger(maxBytes) || maxBytes < 0))
      throw new RangeError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
    const input = typeof source === 'string' ? Buffer.from(source, 'utf8') : source;
    // A buffer's size is known up front: refuse before touching the disk.
    if (Buffer.isBuffer(input) && maxBytes !== undefined && input.length > maxBytes)
      throw tooLarge(key, maxBytes);

    const dir = path.dirname(target);
    await fs.mkdir(dir, { recursive: true });
    // Same directory as the target: rename(2) is only atomic within one filesystem.
    const temp = path.join(dir, `.${randomUUID()}.tmp`);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (maxBytes !== undefined && size > maxBytes) return done(tooLarge(key, maxBytes));
        hash.update(chunk);
        done(null, chunk);
      },
    });

    try {
      const stream = Buffer.isBuffer(input) ? Readable.from([input]) : input;
      // `flush` fsyncs before close, so the renamed file has its bytes on disk, not just its name.
      await pipeline(stream, meter, createWriteStream(temp, { flags: 'wx', flush: true }));
      const sha256 = hash.digest('hex');
      if (expectedSha256 !== undefined && sha256 !== expectedSha256.toLowerCase())
        throw new StorageError(
          'checksum_mismatch',
          `Checksum mismatch for "${key}": expected sha256 ${expectedSha256}, got ${sha256}`,
        );
      await fs.rename(temp, target);
      return { key, size, sha256 };
    } catch (err) {
      await fs.rm(temp, { force: true }).catch(() => undefined);
      throw err;
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.toPath(key);
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(file, 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR', 'EISDIR')) throw notFound(key, err);
      throw err;
    }
    // Stat the open handle, not the path: the range is checked against the file we stream.
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw notFound(key);
      const { start, end } = resolveRange(key, info.size, range);
      if (end < start) {
        await handle.close();
        return emptyStream();
      }
      return handle.createReadStream({ start, end }); // closes the handle when done
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }

  async stat(key: string): Promise<StoredFileStat | null> {
    try {
      const info = await fs.stat(this.toPath(key));
      return info.isFile() ? { key, size: info.size, modifiedAt: info.mtime } : null;
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return null;
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== null;
  }

  async delete(key: string): Promise<boolean> {
    try {
      await fs.unlink(this.toPath(key));
      return true;
    } catch (err) {
      // EISDIR/EPERM: the key names a directory, which is not a stored file.
      if (isErrno(err, 'ENOENT', 'ENOTDIR', 'EISDIR', 'EPERM')) return false;
      throw err;
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    // An empty prefix would wipe everything; callers must name what they own.
    const asDirectory = prefix.endsWith('/');
    const target = this.toPath(asDirectory ? prefix.slice(0, -1) : prefix, 'prefix');
    if (asDirectory) return removeTree(target);

    // S3 semantics: `a/b` also matches `a/bc` and `a/b/c`.
    const parent = path.dirname(target);
    const stem = path.basename(target);
    let names: string[];
    try {
      names = await fs.readdir(parent);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return 0;
      throw err;
    }
    let removed = 0;
    for (const name of names)
      if (name.startsWith(stem)) removed += await removeTree(path.join(parent, name));
    return removed;
  }

  resolvePath(key: string): string {
    return this.toPath(key);
  }

  /**
   * Validates a key and maps it under the root. Keys come from our own code but often embed user
   * input (file names), so anything that could escape the root is refused rather than cleaned.
   */
  private toPath(key: string, what: 'key' | 'prefix' = 'key'): string {
    const refuse = (why: string) =>
      new StorageError('invalid_key', `Invalid storage ${what} ${JSON.stringify(key)}: ${why}`);
    if (typeof key !== 'string' || key.length === 0) throw refuse('empty');
    if (key.length > MAX_KEY_LENGTH) throw refuse(`longer than ${MAX_KEY_LENGTH} characters`);
    if (key.includes('\0')) throw refuse('contains a NUL byte');
    if (key.includes('\\')) throw refuse('contains a backslash');
    if (key.startsWith('/') || path.isAbsolute(key)) throw refuse('absolute path');
    for (const segment of key.split('/')) {
      if (segment === '') throw refuse('empty path segment');
      if (segment === '.' || segment === '..') throw refuse(`"${segment}" segment`);
    }
    const resolved = path.resolve(this.root, key);
    // Belt and braces: whatever the checks above missed must still land under the root.
    if (!resolved.startsWith(this.root + path.sep)) throw refuse('outside the storage root');
    return resolved;
  }
}

function tooLarge(key: string, maxBytes: number): StorageError {
  return new StorageError('too_large', `"${key}" is larger than the limit of ${maxBytes} bytes`);
}

function notFound(key: string, cause?: unknown): StorageError {
  return new StorageError('not_found', `No stored file "${key}"`, { cause });
}

function emptyStream(): Readable {
  return new Readable({
    read() {
      this.push(null);
    },
  });
}

/** Inclusive bounds clamped to the file, as HTTP Range does; `start === size` reads nothing. */
function resolveRange(
  key: string,
  size: number,
  range?: ByteRange,
): { start: number; end: number } {
  if (!range) return { start: 0, end: size - 1 };
  const { start, end } = range;
  const bad = (why: string) =>
    new StorageError('invalid_range', `Invalid range ${start}-${end ?? ''} for "${key}": ${why}`);
  if (!Number.isSafeInteger(start) || start < 0) throw bad('start must be a non-negative integer');
  if (end !== undefined && (!Number.isSafeInteger(end) || end < start))
    throw bad('end must be an integer not below start');
  if (start > size) throw bad(`the file has ${size} bytes`);
  return { start, end: Math.min(end ?? size - 1, size - 1) };
}

/** Removes a file or directory tree (without following symlinks); counts the stored files. */
async function removeTree(target: string): Promise<number> {
  let info;
  try {
    info = await fs.lstat(target);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return 0;
    throw err;
  }
  if (!info.isDirectory()) {
    await fs.rm(target, { force: true });
    return TEMP_FILE.test(path.basename(target)) ? 0 : 1;
  }
  const entries = await fs.readdir(target, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => !e.isDirectory() && !TEMP_FILE.test(e.name)).length;
  await fs.rm(target, { recursive: true, force: true });
  return files;
}
