import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { buffer as collect } from 'node:stream/consumers';
import { LocalFileStorage } from './local-file-storage';
import { StorageError, StorageErrorCode } from './storage.types';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** Every file under `dir`, relative, POSIX separators; temp files included on purpose. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

async function rejectsWith(promise: Promise<unknown>, code: StorageErrorCode): Promise<void> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StorageError);
  expect((err as StorageError).code).toBe(code);
}

function failingStream(first: Buffer): Readable {
  return Readable.from(
    (async function* () {
      yield first;
      await new Promise((r) => setImmediate(r));
      throw new Error('connection reset');
    })(),
  );
}

describe('LocalFileStorage', () => {
  let tmp: string;
  let root: string;
  let storage: LocalFileStorage;

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'llmops-storage-'));
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(tmp, 'root-'));
    storage = new LocalFileStorage(path.join(root, 'files'));
  });

  describe('write and read', () => {
    it('round-trips a Buffer with its size and sha256', async () => {
      const data = Buffer.from('hello, storage\n');
      const stored = await storage.write('docs/a.txt', data);
      expect(stored).toEqual({ key: 'docs/a.txt', size: data.length, sha256: sha256(data) });
      expect(await collect(await storage.read('docs/a.txt'))).toEqual(data);
      expect(await fs.readFile(path.join(root, 'files/docs/a.txt'))).toEqual(data);
    });

    it('round-trips a string as UTF-8', async () => {
      const text = 'héllo 世界';
      const stored = await storage.write('s.txt', text);
      expect(stored.size).toBe(Buffer.byteLength(text));
      expect(stored.sha256).toBe(sha256(Buffer.from(text, 'utf8')));
      expect((await collect(await storage.read('s.txt'))).toString('utf8')).toBe(text);
    });

    it('round-trips a multi-chunk stream', async () => {
      const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(16 * 1024, i));
      const all = Buffer.concat(chunks);
      const stored = await storage.write('models/m/weights.bin', Readable.from(chunks));
      expect(stored).toEqual({
        key: 'models/m/weights.bin',
        size: all.length,
        sha256: sha256(all),
      });
      expect((await collect(await storage.read('models/m/weights.bin'))).equals(all)).toBe(true);
    });

    it('stores an empty file', async () => {
      const stored = await storage.write('empty', Buffer.alloc(0));
      expect(stored).toEqual({ key: 'empty', size: 0, sha256: sha256('') });
      expect((await collect(await storage.read('empty'))).length).toBe(0);
    });

    it('replaces an existing file', async () => {
      await storage.write('k', 'old contents');
      await storage.write('k', 'new');
      expect((await collect(await storage.read('k'))).toString()).toBe('new');
      expect(await listFiles(root)).toEqual(['files/k']);
    });

    it('rejects a read of a missing key or a directory with not_found', async () => {
      await rejectsWith(storage.read('nope'), 'not_found');
      await storage.write('dir/file', 'x');
      await rejectsWith(storage.read('dir'), 'not_found');
      await rejectsWith(storage.read('dir/file/below'), 'not_found');
    });
  });

  describe('range reads', () => {
    const data = Buffer.from('0123456789');
    const readRange = async (start: number, end?: number) =>
      (await collect(await storage.read('r', { start, end }))).toString();

    beforeEach(async () => {
      await storage.write('r', data);
    });

    it('reads an inclusive range', async () => {
      expect(await readRange(2, 5)).toBe('2345');
      expect(await readRange(0, 0)).toBe('0');
    });

    it('reads from an offset to the end', async () => {
      expect(await readRange(7)).toBe('789');
    });

    it('clamps an end past the file', async () => {
      expect(await readRange(8, 100)).toBe('89');
    });

    it('reads nothing from exactly the end (resume of a complete file)', async () => {
      expect(await readRange(10)).toBe('');
    });

    it('refuses ranges that cannot be served', async () => {
      await rejectsWith(storage.read('r', { start: 11 }), 'invalid_range');
      await rejectsWith(storage.read('r', { start: -1 }), 'invalid_range');
      await rejectsWith(storage.read('r', { start: 5, end: 4 }), 'invalid_range');
      await rejectsWith(storage.read('r', { start: 1.5 }), 'invalid_range');
    });
  });

  describe('atomic writes', () => {
    it('never shows a partial file while the write is in progress', async () => {
      const source = new PassThrough();
      const pending = storage.write('big.bin', source);
      source.write(Buffer.alloc(1024, 1));
      await new Promise((r) => setTimeout(r, 20));
      expect(await storage.exists('big.bin')).toBe(false);
      expect(await storage.stat('big.bin')).toBeNull();
      source.end(Buffer.alloc(1024, 2));
      expect((await pending).size).toBe(2048);
      expect((await storage.stat('big.bin'))?.size).toBe(2048);
    });

    it('keeps nothing when the source fails midway', async () => {
      await expect(storage.write('x/y.bin', failingStream(Buffer.alloc(4096)))).rejects.toThrow(
        'connection reset',
      );
      expect(await storage.exists('x/y.bin')).toBe(false);
      expect(await listFiles(root)).toEqual([]);
    });

    it('leaves the previous version intact when a replacement fails', async () => {
      await storage.write('keep', 'version 1');
      await expect(
        storage.write('keep', failingStream(Buffer.from('version 2 p'))),
      ).rejects.toThrow('connection reset');
      expect((await collect(await storage.read('keep'))).toString()).toBe('version 1');
      expect(await listFiles(root)).toEqual(['files/keep']);
    });
  });

  describe('maxBytes', () => {
    it('accepts a file of exactly maxBytes', async () => {
      const stored = await storage.write('ok', Buffer.alloc(100), { maxBytes: 100 });
      expect(stored.size).toBe(100);
    });

    it('refuses a larger stream with too_large and keeps nothing', async () => {
      const chunks = Array.from({ length: 10 }, () => Buffer.alloc(1000));
      await rejectsWith(
        storage.write('up/too-big', Readable.from(chunks), { maxBytes: 2500 }),
        'too_large',
      );
      expect(await storage.exists('up/too-big')).toBe(false);
      expect(await listFiles(root)).toEqual([]);
    });

    it('refuses a larger Buffer before touching the disk', async () => {
      await rejectsWith(storage.write('b', Buffer.alloc(11), { maxBytes: 10 }), 'too_large');
      await rejectsWith(storage.write('s', 'x'.repeat(11), { maxBytes: 10 }), 'too_large');
      expect(await listFiles(root)).toEqual([]);
    });

    it('refuses a nonsensical limit', async () => {
      await expect(storage.write('k', 'x', { maxBytes: -1 })).rejects.toThrow(RangeError);
    });
  });

  describe('expectedSha256', () => {
    const data = Buffer.from('verified bytes');

    it('accepts matching content, case-insensitively', async () => {
      const stored = await storage.write('v', Readable.from([data]), {
        expectedSha256: sha256(data).toUpperCase(),
      });
      expect(stored.sha256).toBe(sha256(data));
      expect(await storage.exists('v')).toBe(true);
    });

    it('rejects a mismatch with checksum_mismatch and keeps nothing', async () => {
      await rejectsWith(
        storage.write('v', Readable.from([data]), { expectedSha256: sha256('other') }),
        'checksum_mismatch',
      );
      expect(await storage.exists('v')).toBe(false);
      expect(await listFiles(root)).toEqual([]);
    });
  });

  describe('keys', () => {
    const badKeys = [
      '',
      '../x',
      '/etc/passwd',
      'a/../../b',
      'a/..',
      './a',
      'a\\b',
      '..\\..\\x',
      'a//b',
      'a/',
      '/',
      'a\0b',
      'x'.repeat(1025),
    ];

    it.each(badKeys)('refuses %j everywhere', async (key) => {
      await rejectsWith(storage.write(key, 'pwned'), 'invalid_key');
      await rejectsWith(storage.read(key), 'invalid_key');
      await rejectsWith(storage.stat(key), 'invalid_key');
      await rejectsWith(storage.exists(key), 'invalid_key');
      await rejectsWith(storage.delete(key), 'invalid_key');
      expect(() => storage.resolvePath(key)).toThrow(StorageError);
    });

    it('writes nothing outside the root for refused keys', async () => {
      for (const key of badKeys) await storage.write(key, 'pwned').catch(() => undefined);
      expect(await fs.readdir(root)).toEqual([]);
      expect((await fs.readdir(tmp)).filter((n) => !n.startsWith('root-'))).toEqual([]);
    });

    it('resolves keys under the root', () => {
      expect(storage.resolvePath('a/b c/d.gguf')).toBe(
        path.join(root, 'files', 'a', 'b c', 'd.gguf'),
      );
      expect(storage.resolvePath('.hidden/..dots..')).toBe(
        path.join(root, 'files', '.hidden', '..dots..'),
      );
    });
  });

  describe('stat, exists and delete', () => {
    it('stats a file', async () => {
      const before = Date.now();
      await storage.write('st/f', 'abc');
      const st = await storage.stat('st/f');
      expect(st).toMatchObject({ key: 'st/f', size: 3 });
      // fs builds the Date in Node's realm, not jest's, so no toBeInstanceOf(Date).
      expect(typeof st!.modifiedAt.getTime()).toBe('number');
      expect(st!.modifiedAt.getTime()).toBeGreaterThanOrEqual(before - 2000);
      expect(await storage.exists('st/f')).toBe(true);
    });

    it('reports missing files and directories as absent', async () => {
      await storage.write('st/f', 'abc');
      expect(await storage.stat('st/missing')).toBeNull();
      expect(await storage.stat('st')).toBeNull();
      expect(await storage.stat('st/f/under-a-file')).toBeNull();
      expect(await storage.exists('st')).toBe(false);
    });

    it('deletes a file once', async () => {
      await storage.write('d/f', 'x');
      expect(await storage.delete('d/f')).toBe(true);
      expect(await storage.exists('d/f')).toBe(false);
      expect(await storage.delete('d/f')).toBe(false);
      expect(await storage.delete('never/was')).toBe(false);
      expect(await storage.delete('d')).toBe(false); // a directory is not a stored file
    });
  });

  describe('deletePrefix', () => {
    beforeEach(async () => {
      for (const key of ['ds/1/a', 'ds/1/sub/b', 'ds/1/sub/deeper/c', 'ds/10/d', 'ds/2/e', 'other'])
        await storage.write(key, key);
    });

    it('removes a directory prefix and counts its files', async () => {
      expect(await storage.deletePrefix('ds/1/')).toBe(3);
      expect(await listFiles(path.join(root, 'files'))).toEqual(['ds/10/d', 'ds/2/e', 'other']);
    });

    it('matches plain prefixes like S3 does', async () => {
      expect(await storage.deletePrefix('ds/1')).toBe(4);
      expect(await listFiles(path.join(root, 'files'))).toEqual(['ds/2/e', 'other']);
    });

    it('removes a single file named by the prefix', async () => {
      expect(await storage.deletePrefix('oth')).toBe(1);
      expect(await storage.exists('other')).toBe(false);
    });

    it('returns 0 when nothing matches', async () => {
      expect(await storage.deletePrefix('ds/3/')).toBe(0);
      expect(await storage.deletePrefix('missing/dir/x')).toBe(0);
      expect(await storage.deletePrefix('other/below')).toBe(0);
      expect(await listFiles(path.join(root, 'files'))).toHaveLength(6);
    });

    it('refuses empty and escaping prefixes', async () => {
      for (const prefix of ['', '/', '../', 'ds/../..', 'ds//'])
        await rejectsWith(storage.deletePrefix(prefix), 'invalid_key');
      expect(await listFiles(path.join(root, 'files'))).toHaveLength(6);
    });
  });
});
