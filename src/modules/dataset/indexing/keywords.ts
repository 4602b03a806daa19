import { Jieba } from '@node-rs/jieba';
import { dict } from '@node-rs/jieba/dict';

/** Loading the dictionary takes ~100 ms and ~30 MB: once per process, on first use. */
let jieba: Jieba | undefined;
const segmenter = (): Jieba => (jieba ??= Jieba.withDict(dict));

/** A word worth indexing: has a letter or a digit (drops punctuation and whitespace). */
const WORD = /[\p{L}\p{N}]/u;

function words(text: string): string[] {
  return segmenter()
    .cutForSearch(text, true)
    .map((w) => w.trim().toLowerCase())
    .filter((w) => WORD.test(w));
}

/**
 * The text full-text search indexes: jieba's search-mode words (Chinese split into words and
 * their sub-words, other scripts into words), lowercased, punctuation dropped, space-joined, for
 * `to_tsvector('simple', …)`.
 */
export function searchTerms(text: string): string {
  return words(text).join(' ');
}

/** The distinct terms of a query, segmented like the indexed text. */
export function searchQuery(query: string): string[] {
  return [...new Set(words(query))];
}
