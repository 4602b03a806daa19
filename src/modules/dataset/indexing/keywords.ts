import { lazyRequire } from '@app/common';
import type { Jieba, TfIdf } from '@node-rs/jieba';
import { STOPWORDS } from './stopwords';

/** Loading the dictionaries takes about a second, so it happens once, on first use. */
let loaded: { jieba: Jieba; tfidf: TfIdf } | undefined;
function load(): { jieba: Jieba; tfidf: TfIdf } {
  if (!loaded) {
    // The dictionaries are tens of MB in memory: loaded with the first text, not at boot.
    const jieba = lazyRequire<typeof import('@node-rs/jieba')>('@node-rs/jieba')();
    const { dict, idf } =
      lazyRequire<typeof import('@node-rs/jieba/dict')>('@node-rs/jieba/dict')();
    loaded = { jieba: jieba.Jieba.withDict(dict), tfidf: jieba.TfIdf.withDict(idf) };
  }
  return loaded;
}

const HAN = /\p{Script=Han}/u;
const HAN_ALL = /\p{Script=Han}+/gu;
// A word: letters, combining marks and digits. Everything else (punctuation, "_", "-", ".")
// separates words, as PostgreSQL's parser mostly does, so no term needs quoting in a tsquery.
const WORD = /[\p{L}\p{M}\p{N}]+/gu;
const DIGITS = /^\p{N}+$/u;
const WHOLE_WORD = /^[\p{L}\p{M}\p{N}]+$/u;
const NO_WORD = /^[^\p{L}\p{M}\p{N}]*$/u;
const WHITESPACE = /\s+/;

function isUseful(word: string): boolean {
  return word.length >= 2 && !DIGITS.test(word) && !STOPWORDS.has(word);
}

/**
 * Up to `max` keywords of a segment: Chinese words by TF-IDF (jieba), other words lowercased by
 * frequency, stopwords and numbers left out. The two lists share the slots in proportion to how
 * much of the text is Chinese, then are ordered by their relative score.
 */
export function extractKeywords(text: string, max = 10): string[] {
  if (max <= 0 || !text.trim()) return [];
  const normalized = text.normalize('NFKC');

  const hanChars = (normalized.match(HAN_ALL) ?? []).join('').length;
  const chinese: Array<{ word: string; score: number }> = [];
  if (hanChars > 0) {
    const { jieba, tfidf } = load();
    // Only the whitespace-separated runs that hold Han reach jieba: it never joins characters
    // across whitespace, so each Chinese word is found and counted exactly as in the whole text,
    // and the rest (in a mixed document mostly English, which jieba cuts slowly) only cost time.
    const found = tfidf.extractKeywords(jieba, hanRuns(normalized), max * 4 + 20);
    for (const k of found) {
      if (HAN.test(k.keyword) && isUseful(k.keyword)) {
        chinese.push({ word: k.keyword, score: k.weight });
      }
    }
    // Scores relative to the best Chinese word, as the other words' are to the most frequent one.
    const top = chinese[0]?.score || 1;
    for (const k of chinese) k.score /= top;
  }

  // Non-Chinese words: Han runs become spaces so "PostgreSQL数据库" still yields "postgresql".
  // Every word is counted, then the useless ones dropped: words repeat, so each is judged once.
  const seen = new Map<string, number>();
  let otherChars = 0;
  for (const m of normalized.replace(HAN_ALL, ' ').match(WORD) ?? []) {
    otherChars += m.length;
    const word = m.toLowerCase();
    seen.set(word, (seen.get(word) ?? 0) + 1);
  }
  const counts = new Map<string, number>();
  for (const [word, n] of seen) if (isUseful(word)) counts.set(word, n);
  const topCount = Math.max(1, ...counts.values());
  // Map keeps first-seen order, and sort is stable: ties go to the earlier word.
  const other = [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([word, n]) => ({ word, score: n / topCount }));

  const share = hanChars / Math.max(1, hanChars + otherChars);
  let zhSlots = Math.min(chinese.length, Math.round(max * share));
  const otherSlots = Math.min(other.length, max - zhSlots);
  zhSlots = Math.min(chinese.length, max - otherSlots);
  const picked = [...chinese.slice(0, zhSlots), ...other.slice(0, otherSlots)].sort(
    (a, b) => b.score - a.score,
  );
  return [...new Set(picked.map((k) => k.word))].slice(0, max);
}

/** The runs between whitespace that contain Han characters, joined by spaces. */
export function hanRuns(text: string): string {
  const runs: string[] = [];
  for (const run of text.split(WHITESPACE)) if (HAN.test(run)) runs.push(run);
  return runs.join(' ');
}

/** Terms of one piece jieba returned (or of the whole text when it has no Han). */
function pushTerms(piece: string, out: string[]): void {
  // Most pieces are one word or one separator; only mixed ones need the word regex.
  if (WHOLE_WORD.test(piece)) out.push(piece);
  else if (!NO_WORD.test(piece)) for (const m of piece.matchAll(WORD)) out.push(m[0]);
}

/** Run -> its terms. Bounded: cleared when full. Long runs (Chinese prose) rarely repeat. */
const runCache = new Map<string, string[]>();
const RUN_CACHE_MAX = 100_000;
const RUN_CACHE_CHARS = 32;

/** Terms of a run of non-whitespace characters, through jieba's search mode. */
function runTerms(run: string, jieba: Jieba): string[] {
  const cacheable = run.length <= RUN_CACHE_CHARS;
  let found = cacheable ? runCache.get(run) : undefined;
  if (found === undefined) {
    found = [];
    for (const piece of jieba.cutForSearch(run, true)) pushTerms(piece, found);
    if (cacheable) {
      if (runCache.size >= RUN_CACHE_MAX) runCache.clear();
      runCache.set(run, found);
    }
  }
  return found;
}

/**
 * Lowercased words of `text`, Chinese cut by jieba in search mode (words and their parts).
 *
 * jieba cuts text into blocks of Han, ASCII letters, digits and "+#&._%-" and segments each
 * block on its own; whatever lies between blocks (whitespace, punctuation) comes out one
 * character at a time. Whitespace never belongs to a block, so cutting the runs between
 * whitespace one by one gives the same words as cutting the whole text, and the runs (mostly
 * words of other languages, which repeat) are cached instead of crossing into jieba again.
 */
function terms(text: string): string[] {
  const normalized = text.normalize('NFKC').toLowerCase();
  const out: string[] = [];
  // jieba is only needed for Han runs; other text is split on non-word characters directly.
  if (!HAN.test(normalized)) {
    pushTerms(normalized, out);
    return out;
  }
  const { jieba } = load();
  for (const run of normalized.split(WHITESPACE)) {
    if (run === '') continue;
    for (const term of runTerms(run, jieba)) out.push(term);
  }
  return out;
}

/**
 * The text as space-separated terms for `to_tsvector('simple', …)`: Chinese is segmented by
 * jieba (search mode, so "知识库" indexes "知识" and "知识库"), everything is lowercased and
 * punctuation is dropped. A query passed through searchQuery matches it term for term.
 */
export function searchTerms(text: string): string {
  return terms(text).join(' ');
}

/** searchTerms as a list, in order (what tsvectorLiteral takes). */
export function searchTermList(text: string): string[] {
  return terms(text);
}

/**
 * The distinct terms of a query, segmented as searchTerms segments documents, without stopwords
 * (unless the query is nothing but stopwords). Terms contain only letters, marks and digits, so
 * they are safe to join into a tsquery ("a | b" or "a & b").
 */
export function searchQuery(query: string): string[] {
  const all = [...new Set(terms(query))];
  const useful = all.filter((t) => !STOPWORDS.has(t));
  return useful.length > 0 ? useful : all;
}
