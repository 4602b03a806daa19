/** Half-open byte ranges [start, end), kept sorted and merged. */
export type ByteRange = [number, number];

export function addRange(ranges: ByteRange[], start: number, end: number): ByteRange[] {
  if (end <= start) return ranges;
  const all = [...ranges, [start, end] as ByteRange].sort((a, b) => a[0] - b[0]);
  const out: ByteRange[] = [];
  for (const [s, e] of all) {
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

/** Where the bytes contiguous from 0 end (0 when byte 0 is missing). */
export function contiguousEnd(ranges: ByteRange[]): number {
  const head = ranges[0];
  return head && head[0] === 0 ? head[1] : 0;
}

export function coveredBytes(ranges: ByteRange[]): number {
  return ranges.reduce((n, [s, e]) => n + (e - s), 0);
}

/** The gaps of [0, size) not covered by `done`. */
export function missingRanges(done: ByteRange[], size: number): ByteRange[] {
  const out: ByteRange[] = [];
  let at = 0;
  for (const [s, e] of done) {
    if (s > at) out.push([at, Math.min(s, size)]);
    at = Math.max(at, e);
  }
  if (at < size) out.push([at, size]);
  return out.filter(([s, e]) => e > s);
}

/**
 * Cuts the missing ranges into at most `maxParts` pieces of at least `minBytes` each (a smaller
 * remainder stays one piece), largest gaps split first.
 */
export function planParts(missing: ByteRange[], maxParts: number, minBytes: number): ByteRange[] {
  let parts = missing.map((r) => [...r] as ByteRange);
  while (parts.length < maxParts) {
    parts.sort((a, b) => b[1] - b[0] - (a[1] - a[0]));
    const [s, e] = parts[0];
    if (e - s < 2 * minBytes) break;
    const mid = s + Math.floor((e - s) / 2);
    parts.splice(0, 1, [s, mid], [mid, e]);
  }
  parts = parts.sort((a, b) => a[0] - b[0]);
  return parts;
}
