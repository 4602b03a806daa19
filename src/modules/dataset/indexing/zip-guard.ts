import { promisify } from 'node:util';
import { inflateRaw } from 'node:zlib';
import { DocumentParseError } from './pipeline.types';

const inflate = promisify(inflateRaw);

export interface ZipLimits {
  /** Most entries a document may have. */
  maxEntries: number;
  /** Most bytes all entries may inflate to, together. */
  maxUnzippedBytes: number;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = { maxEntries: 10_000, maxUnzippedBytes: 100 << 20 };

interface Entry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/**
 * Refuses a docx/xlsx that would inflate past the limits, before mammoth or exceljs (both
 * JSZip underneath, which inflates whatever it is asked to) touch it. The central directory's
 * sizes are checked first, then every entry is inflated with its declared size as a hard cap
 * (zlib's maxOutputLength), so an archive lying about its sizes is caught too. Reads the same
 * fields JSZip reads (central directory sizes, data after the local header).
 */
export async function assertZipWithinLimits(
  bytes: Buffer,
  name: string,
  limits: ZipLimits,
  signal?: AbortSignal,
): Promise<void> {
  const entries = readCentralDirectory(bytes, name);
  if (entries.length > limits.maxEntries) {
    throw new DocumentParseError(
      `"${name}" has too many parts (${entries.length}, at most ${limits.maxEntries})`,
    );
  }
  const tooLarge = (): DocumentParseError =>
    new DocumentParseError(
      `"${name}" unpacks to more than ${Math.round(limits.maxUnzippedBytes / 2 ** 20)} MB, ` +
        'which is more than a document of its kind should hold',
    );
  const declared = entries.reduce((sum, e) => sum + e.size, 0);
  if (declared > limits.maxUnzippedBytes) throw tooLarge();

  for (const entry of entries) {
    signal?.throwIfAborted();
    const data = entryData(bytes, entry, name);
    if (entry.method === 0) {
      if (entry.size !== entry.compressedSize) throw corrupt(name, 'a stored part has two sizes');
      continue;
    }
    if (entry.method !== 8) {
      throw corrupt(name, `part "${entry.name}" uses unsupported compression ${entry.method}`);
    }
    let inflated: Buffer;
    try {
      // One byte over the declared size proves the declaration false without inflating more.
      inflated = await inflate(data, { maxOutputLength: Math.max(1, entry.size + 1) });
    } catch (err) {
      // By code, not instanceof: the error may come from another realm (jest's vm contexts).
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge();
      throw corrupt(name, `part "${entry.name}" does not inflate`);
    }
    if (inflated.length !== entry.size) {
      throw corrupt(name, `part "${entry.name}" is not the size it declares`);
    }
  }
}

function corrupt(name: string, why: string): DocumentParseError {
  return new DocumentParseError(`"${name}" is not a valid document archive (${why})`);
}

function readCentralDirectory(bytes: Buffer, name: string): Entry[] {
  // The end record is in the last 22 + 65535 (comment) bytes.
  const floor = Math.max(0, bytes.length - 22 - 0xffff);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= floor; i--) {
    if (bytes.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw corrupt(name, 'no zip directory');
  const count = bytes.readUInt16LE(eocd + 10);
  const dirSize = bytes.readUInt32LE(eocd + 12);
  const dirOffset = bytes.readUInt32LE(eocd + 16);
  // ZIP64 markers: an office document within the upload limit never needs them.
  if (count === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) {
    throw corrupt(name, 'ZIP64 archives are not accepted');
  }
  if (dirOffset + dirSize > eocd) throw corrupt(name, 'the zip directory is out of bounds');
  const entries: Entry[] = [];
  let p = dirOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > eocd || bytes.readUInt32LE(p) !== CENTRAL) {
      throw corrupt(name, 'a damaged zip directory');
    }
    const nameLength = bytes.readUInt16LE(p + 28);
    const entry: Entry = {
      method: bytes.readUInt16LE(p + 10),
      compressedSize: bytes.readUInt32LE(p + 20),
      size: bytes.readUInt32LE(p + 24),
      localOffset: bytes.readUInt32LE(p + 42),
      name: bytes.toString('utf8', p + 46, p + 46 + nameLength),
    };
    if (entry.size === 0xffffffff || entry.compressedSize === 0xffffffff) {
      throw corrupt(name, 'ZIP64 archives are not accepted');
    }
    entries.push(entry);
    p += 46 + nameLength + bytes.readUInt16LE(p + 30) + bytes.readUInt16LE(p + 32);
  }
  return entries;
}

function entryData(bytes: Buffer, entry: Entry, name: string): Buffer {
  const at = entry.localOffset;
  if (at + 30 > bytes.length || bytes.readUInt32LE(at) !== LOCAL) {
    throw corrupt(name, `part "${entry.name}" is missing`);
  }
  const start = at + 30 + bytes.readUInt16LE(at + 26) + bytes.readUInt16LE(at + 28);
  const end = start + entry.compressedSize;
  if (end > bytes.length) throw corrupt(name, `part "${entry.name}" is cut off`);
  return bytes.subarray(start, end);
}
