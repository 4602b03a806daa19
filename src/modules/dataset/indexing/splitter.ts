import { lazyRequire } from '@app/common';
import { setImmediate } from 'node:timers/promises';

// LangChain's splitter (and @langchain/core under it) loads with the first document, not at boot.
const textSplitters = lazyRequire<typeof import('@langchain/textsplitters')>(
  '@langchain/textsplitters',
);
const re2js = lazyRequire<typeof import('re2js')>('re2js');
import type { SegmentRule, TextSegment } from './pipeline.types';
import { countTokens } from './token-counter';

export { countTokens } from './token-counter';

/** A separator of a segment rule that is not a regular expression we can run, or too long. */
export class InvalidSeparatorError extends Error {
  constructor(
    readonly separator: string,
    why = 'is not a valid regular expression',
  ) {
    super(`The separator "${separator}" ${why}`);
    this.name = 'InvalidSeparatorError';
  }
}

const MAX_SEPARATOR_LENGTH = 100;

/** A compiled separator: whether it occurs in a text, and the text cut before each occurrence. */
export interface Separator {
  test(text: string): boolean;
  split(text: string): string[];
}

/**
 * True for a pattern without groups or quantifiers (the default rule's `。|！|？`, `\.\s|\!\s`):
 * a backtracking engine tries each branch once per position, so V8's fast RegExp is safe for it.
 */
function isFlat(pattern: string): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') i++;
    else if (c === '[') {
      // A class: `]` right after `[` or `[^` is a literal.
      i += pattern[i + 1] === '^' ? 2 : 1;
      if (pattern[i] === ']') i++;
      while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
    } else if ('()*+?{'.includes(c)) return false;
  }
  return true;
}

/** A flat pattern on V8's RegExp; a lookahead keeps each separator at the start of its piece. */
function flatSeparator(s: string): Separator {
  const search = new RegExp(s);
  const cut = new RegExp(`(?=${s})`, 'g');
  return {
    test: (text) => search.test(text),
    split: (text) => {
      cut.lastIndex = 0;
      return text.split(cut);
    },
  };
}

/**
 * Any other pattern runs on RE2 (re2js), in time linear in the text: a user's `.*.*.*x` or
 * `(a|a)*b` would otherwise backtrack for hours on one document, and a JS regex cannot be
 * interrupted. Pieces start at each match, matches do not overlap (Python's re.split, as the
 * original). RE2 has no lookaround or backreferences.
 */
function re2Separator(s: string): Separator {
  let re: import('re2js').RE2JS;
  try {
    re = re2js().RE2JS.compile(s);
  } catch (e) {
    const why = /unsupported Perl syntax|invalid escape/.test(String(e))
      ? 'uses lookaround or backreferences, which separators do not support'
      : undefined;
    throw new InvalidSeparatorError(s, why);
  }
  return {
    test: (text) => re.matcher(text).find(),
    split: (text) => {
      const pieces: string[] = [];
      const m = re.matcher(text);
      let from = 0;
      while (m.find()) {
        const at = m.start();
        if (at > from) {
          pieces.push(text.slice(from, at));
          from = at;
        }
      }
      if (from < text.length || !pieces.length) pieces.push(text.slice(from));
      return pieces;
    },
  };
}

/**
 * Compiles the rule's separators as regexes, as the original does (Python `re`,
 * is_separator_regex=True), so the integrator can reject a bad rule up front (throws
 * InvalidSeparatorError). No `u` flag: the default rule's `\!` is an identity escape that Unicode
 * mode refuses.
 */
export function compileSeparators(separators: string[]): Separator[] {
  return separators.map((s) => {
    if (s.length > MAX_SEPARATOR_LENGTH) {
      throw new InvalidSeparatorError(s, `is longer than ${MAX_SEPARATOR_LENGTH} characters`);
    }
    if (!isFlat(s)) return re2Separator(s);
    try {
      return flatSeparator(s);
    } catch {
      throw new InvalidSeparatorError(s);
    }
  });
}

/**
 * LangChain JS's RecursiveCharacterTextSplitter treats separators as literal strings (it has no
 * isSeparatorRegex), so separator choice and splitting are redone here with regexes; merging
 * (mergeSplits, with its overlap) stays LangChain's. Lengths are tokens, memoised per call: the
 * splitter measures every piece two or three times.
 */
type RegexSplitter = { splitText(text: string): Promise<string[]> };
type RegexSplitterClass = new (
  rule: SegmentRule,
  patterns: Map<string, Separator>,
  length: (s: string) => number | Promise<number>,
) => RegexSplitter;

let splitterClass: RegexSplitterClass | undefined;

/** The splitter class, defined on first use (its base class comes from a lazily loaded package). */
function regexSeparatorSplitter(): RegexSplitterClass {
  if (splitterClass) return splitterClass;
  class RegexSeparatorSplitter extends textSplitters().RecursiveCharacterTextSplitter {
    private readonly patterns: Map<string, Separator>;

    constructor(
      rule: SegmentRule,
      patterns: Map<string, Separator>,
      length: (s: string) => number | Promise<number>,
    ) {
      super({
        chunkSize: rule.chunk_size,
        chunkOverlap: rule.chunk_overlap,
        separators: rule.separators,
        keepSeparator: true,
        // The splitter awaits every length; ours is a number but now and then a promise (below).
        lengthFunction: length as (s: string) => Promise<number>,
      });
      this.patterns = patterns;
    }

    protected override splitOnSeparator(text: string, separator: string): string[] {
      // "" splits into characters; by code point so a surrogate pair is never cut in half.
      if (separator === '') return Array.from(text);
      return (this.patterns.get(separator) as Separator).split(text).filter((s) => s !== '');
    }

    override async splitText(text: string): Promise<string[]> {
      return this.recurse(text, this.separators);
    }

    // Python LangChain's _split_text with regex separators (the original's behaviour).
    private async recurse(text: string, separators: string[]): Promise<string[]> {
      const chunks: string[] = [];
      let separator = separators[separators.length - 1];
      let rest: string[] | undefined;
      for (let i = 0; i < separators.length; i++) {
        const s = separators[i];
        if (s === '') {
          separator = s;
          break;
        }
        // As Python's re.search: a match anywhere, even at the start, selects the separator.
        if ((this.patterns.get(s) as Separator).test(text)) {
          separator = s;
          rest = separators.slice(i + 1);
          break;
        }
      }
      const splits = this.splitOnSeparator(text, separator);
      let good: string[] = [];
      for (const s of splits) {
        if ((await this.lengthFunction(s)) < this.chunkSize) {
          good.push(s);
          continue;
        }
        if (good.length) {
          chunks.push(...(await this.mergeSplits(good, '')));
          good = [];
        }
        if (rest?.length) chunks.push(...(await this.recurse(s, rest)));
        else chunks.push(s);
      }
      if (good.length) chunks.push(...(await this.mergeSplits(good, '')));
      return chunks;
    }
  }
  splitterClass = RegexSeparatorSplitter;
  return splitterClass;
}

/**
 * Splits text into segments of at most chunk_size tokens with chunk_overlap tokens of overlap,
 * trying the rule's separators (regexes) in order. Whitespace-only segments are dropped.
 *
 * Unlike the original, "" is always the last resort even if the rule omits it, so a long run
 * without any of the rule's separators still ends up within chunk_size (embedding models refuse
 * oversized inputs).
 */
export async function splitText(text: string, rule: SegmentRule): Promise<TextSegment[]> {
  const separators = rule.separators.includes('')
    ? rule.separators.slice(0, rule.separators.indexOf('') + 1)
    : [...rule.separators, ''];
  const compiled = compileSeparators(separators);
  const patterns = new Map(separators.map((s, i) => [s, compiled[i]]));
  const memo = new Map<string, number>();
  const breathe = new Breather();
  const length = (s: string): number | Promise<number> => {
    let n = memo.get(s);
    if (n === undefined) {
      n = countTokens(s);
      memo.set(s, n);
    }
    return breathe.due() ? breathe.pause(n) : n;
  };
  const Splitter = regexSeparatorSplitter();
  const splitter = new Splitter({ ...rule, separators }, patterns, length);
  const chunks = await splitter.splitText(text);
  const segments: TextSegment[] = [];
  for (const content of chunks) {
    if (content.trim() === '') continue;
    segments.push({ content, token_count: countTokens(content) });
    if (breathe.due()) await breathe.pause(0);
  }
  return segments;
}

/** Work between two turns of the event loop while a document is split. */
const SPLIT_SLICE_MS = 20;

/**
 * Gives the event loop a turn every SPLIT_SLICE_MS. Splitting megabytes takes seconds and, with
 * lengths that are plain numbers, every `await` in it resolves without leaving the microtask
 * queue: the process (the API too, when one process runs both roles) would answer nothing
 * meanwhile.
 */
class Breather {
  private since = performance.now();

  due(): boolean {
    return performance.now() - this.since >= SPLIT_SLICE_MS;
  }

  async pause<T>(value: T): Promise<T> {
    await setImmediate();
    this.since = performance.now();
    return value;
  }
}
