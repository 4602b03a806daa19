import { DocumentParseError } from './pipeline.types';

const SIGNATURE = Buffer.from('d0cf11e0a1b11ae1', 'hex');

/**
 * Checks the container of a .doc (an OLE compound file) before word-extractor reads it.
 * word-extractor follows sector chains until they end, so a chain that loops (A -> B -> A) never
 * ends and fills memory until the process dies, and it allocates whatever table sizes the header
 * claims. Here the header's sizes must fit in the file, and neither the sector allocation table
 * nor the short-sector one may contain a loop.
 */
export function assertOleSane(bytes: Buffer, name: string): void {
  const bad = (why: string): DocumentParseError =>
    new DocumentParseError(`"${name}" could not be read as a Word 97-2003 document (${why})`);
  if (bytes.length < 512 || !bytes.subarray(0, 8).equals(SIGNATURE)) {
    throw bad('it is not an OLE compound file');
  }
  const shift = bytes.readUInt16LE(30);
  if (shift !== 9 && shift !== 12) throw bad('unsupported sector size');
  const sectorSize = 1 << shift;
  const sectors = Math.floor((bytes.length - sectorSize) / sectorSize) + 1;
  const fatSectors = bytes.readInt32LE(44);
  const miniFatStart = bytes.readInt32LE(60);
  const miniFatSectors = bytes.readInt32LE(64);
  const difatStart = bytes.readInt32LE(68);
  const difatSectors = bytes.readInt32LE(72);
  for (const count of [fatSectors, miniFatSectors, difatSectors]) {
    if (count < 0 || count > sectors) throw bad('its header claims more sectors than it has');
  }
  const sector = (id: number): Buffer => {
    if (id < 0 || id >= sectors) throw bad('a sector lies outside the file');
    const start = (id + 1) * sectorSize;
    return bytes.subarray(start, Math.min(start + sectorSize, bytes.length));
  };

  // Where the allocation table's sectors are: 109 ids in the header, the rest in DIFAT sectors.
  const fatIds: number[] = [];
  for (let i = 0; i < Math.min(fatSectors, 109); i++) fatIds.push(bytes.readInt32LE(76 + i * 4));
  let difat = difatStart;
  for (let s = 0; s < difatSectors && fatIds.length < fatSectors; s++) {
    const buf = sector(difat);
    for (let i = 0; i + 4 < sectorSize && fatIds.length < fatSectors; i += 4) {
      fatIds.push(buf.readInt32LE(i));
    }
    difat = buf.readInt32LE(sectorSize - 4);
  }
  const fat = readTable(fatIds.map(sector));
  if (hasLoop(fat)) throw bad('its sector chains loop');

  const miniIds: number[] = [];
  for (let id = miniFatStart; id >= 0 && miniIds.length < miniFatSectors; id = fat[id] ?? -2) {
    miniIds.push(id);
  }
  if (hasLoop(readTable(miniIds.map(sector)))) throw bad('its sector chains loop');
}

function readTable(buffers: Buffer[]): Int32Array {
  const size = buffers.reduce((n, b) => n + Math.floor(b.length / 4), 0);
  const table = new Int32Array(size);
  let at = 0;
  for (const b of buffers) {
    for (let i = 0; i + 4 <= b.length; i += 4) table[at++] = b.readInt32LE(i);
  }
  return table;
}

/** True when following next-pointers (negative: end) from some entry comes back to it. */
function hasLoop(next: Int32Array): boolean {
  // 0: unseen, 1: on the current walk, 2: known to reach an end.
  const state = new Uint8Array(next.length);
  const path: number[] = [];
  for (let start = 0; start < next.length; start++) {
    if (state[start]) continue;
    let id = start;
    while (id >= 0 && id < next.length && state[id] === 0) {
      state[id] = 1;
      path.push(id);
      id = next[id];
    }
    if (id >= 0 && id < next.length && state[id] === 1) return true;
    for (const p of path) state[p] = 2;
    path.length = 0;
  }
  return false;
}
