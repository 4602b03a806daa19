import { lazyRequire } from '@app/common';

// About 1 MB of ranks, loaded with the first count.
const cl100kRanks = lazyRequire<{ pat_str: string; bpe_ranks: string }>(
  'js-tiktoken/ranks/cl100k_base',
);

/**
 * cl100k_base token counting, exact (same counts as js-tiktoken's encode) but built for the
 * splitter, which counts the same text many times:
 *
 * - tiktoken cuts the text with its regex and byte-pair-encodes each piece on its own, so the
 *   count of a text is the sum of the counts of its pieces. Pieces repeat a lot (words, and every
 *   piece is seen again when the splitter re-counts a merged chunk), so their counts are cached.
 * - js-tiktoken's merge loop keys its rank map by "1,2,3" strings and rescans the whole piece on
 *   every merge: ~150 µs for one 15-character Chinese run, 3-4 s for 300 K Chinese characters.
 *   Here ranks are keyed by latin1 byte strings and long pieces merge through a heap.
 * - Special tokens ("<|endoftext|>" ...) in a document are ordinary text: js-tiktoken's encode
 *   would throw on them.
 *
 * The ranks come from the installed package (js-tiktoken/ranks/cl100k_base); nothing is fetched.
 */

interface Encoding {
  pattern: RegExp;
  ranks: Map<string, number>;
}

let encoding: Encoding | undefined;

function load(): Encoding {
  if (encoding) return encoding;
  const ranks = new Map<string, number>();
  const cl100k = cl100kRanks();
  // Format: lines "<first char> <offset> <base64 token> <base64 token> ...", ranks offset+i.
  for (const line of cl100k.bpe_ranks.split('\n')) {
    if (!line) continue;
    const parts = line.split(' ');
    const offset = Number.parseInt(parts[1], 10);
    for (let i = 2; i < parts.length; i++) {
      ranks.set(Buffer.from(parts[i], 'base64').toString('latin1'), offset + i - 2);
    }
  }
  encoding = { pattern: new RegExp(cl100k.pat_str, 'gu'), ranks };
  return encoding;
}

/** Piece -> token count. Bounded: cleared when full (pieces are short, recounting is cheap). */
const pieceCache = new Map<string, number>();
const PIECE_CACHE_MAX = 200_000;

/** Tokens of one regex piece, given as a latin1 string of its UTF-8 bytes. */
function bytePairCount(bytes: string, ranks: Map<string, number>): number {
  const n = bytes.length;
  if (n <= 1 || ranks.has(bytes)) return 1;
  return n <= 64 ? mergeSmall(bytes, ranks) : mergeHeap(bytes, ranks);
}

/** tiktoken's own algorithm: merge the lowest-ranked adjacent pair (leftmost on ties). */
function mergeSmall(bytes: string, ranks: Map<string, number>): number {
  const starts: number[] = [];
  for (let i = 0; i <= bytes.length; i++) starts.push(i);
  // pairRank[i]: rank of parts i and i+1 joined.
  const rankOf = (i: number): number =>
    i + 2 < starts.length
      ? (ranks.get(bytes.slice(starts[i], starts[i + 2])) ?? Infinity)
      : Infinity;
  const pairRank: number[] = [];
  for (let i = 0; i < starts.length - 2; i++) pairRank.push(rankOf(i));
  while (starts.length > 2) {
    let best = Infinity;
    let at = -1;
    for (let i = 0; i < pairRank.length; i++) {
      if (pairRank[i] < best) {
        best = pairRank[i];
        at = i;
      }
    }
    if (at < 0) break;
    starts.splice(at + 1, 1);
    pairRank.splice(at, 1);
    if (at < pairRank.length) pairRank[at] = rankOf(at);
    if (at > 0) pairRank[at - 1] = rankOf(at - 1);
  }
  return starts.length - 1;
}

/**
 * The same merge order for long pieces (a long run of letters, e.g. Chinese without punctuation)
 * in O(n log n): parts are a linked list by start offset, candidate pairs sit in a min-heap keyed
 * (rank, start), and stale candidates are skipped by a per-part version.
 */
function mergeHeap(bytes: string, ranks: Map<string, number>): number {
  const n = bytes.length;
  const next = new Int32Array(n + 1);
  const prev = new Int32Array(n + 1);
  const version = new Int32Array(n + 1);
  for (let i = 0; i <= n; i++) {
    next[i] = i + 1;
    prev[i] = i - 1;
  }
  const heapKey: number[] = [];
  const heapVer: number[] = [];
  const SHIFT = 2 ** 32;
  const push = (key: number, ver: number): void => {
    let i = heapKey.length;
    heapKey.push(key);
    heapVer.push(ver);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (heapKey[p] <= key) break;
      heapKey[i] = heapKey[p];
      heapVer[i] = heapVer[p];
      i = p;
    }
    heapKey[i] = key;
    heapVer[i] = ver;
  };
  const pop = (): [number, number] => {
    const top: [number, number] = [heapKey[0], heapVer[0]];
    const lastKey = heapKey.pop() as number;
    const lastVer = heapVer.pop() as number;
    const size = heapKey.length;
    if (size > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= size) break;
        const r = l + 1;
        const c = r < size && heapKey[r] < heapKey[l] ? r : l;
        if (heapKey[c] >= lastKey) break;
        heapKey[i] = heapKey[c];
        heapVer[i] = heapVer[c];
        i = c;
      }
      heapKey[i] = lastKey;
      heapVer[i] = lastVer;
    }
    return top;
  };
  // A candidate: the part starting at s joined with the part after it.
  const consider = (s: number): void => {
    if (s < 0) return;
    const mid = next[s];
    if (mid >= n) return;
    const rank = ranks.get(bytes.slice(s, next[mid]));
    if (rank !== undefined) push(rank * SHIFT + s, version[s]);
  };
  for (let s = 0; s < n - 1; s++) consider(s);
  let parts = n;
  while (heapKey.length > 0) {
    const [key, ver] = pop();
    const s = key % SHIFT;
    if (version[s] !== ver) continue;
    const mid = next[s];
    const end = next[mid];
    next[s] = end;
    if (end <= n) prev[end] = s;
    version[mid] = -1;
    version[s]++;
    parts--;
    const p = prev[s];
    if (p >= 0) {
      version[p]++;
      consider(p);
    }
    consider(s);
  }
  return parts;
}

/** Tokens of `text` in cl100k_base (GPT-4 / text-embedding-3). */
export function countTokens(text: string): number {
  if (!text) return 0;
  const { pattern, ranks } = load();
  let total = 0;
  pattern.lastIndex = 0;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    const piece = m[0];
    let count = pieceCache.get(piece);
    if (count === undefined) {
      count = bytePairCount(Buffer.from(piece, 'utf8').toString('latin1'), ranks);
      if (pieceCache.size >= PIECE_CACHE_MAX) pieceCache.clear();
      pieceCache.set(piece, count);
    }
    total += count;
  }
  return total;
}
