import { getEncoding } from 'js-tiktoken';
import { DEFAULT_PROCESS_RULE, type SegmentRule } from './pipeline.types';
import { compileSeparators, countTokens, InvalidSeparatorError, splitText } from './splitter';

const reference = getEncoding('cl100k_base');
/** js-tiktoken, with special tokens read as plain text (as countTokens does). */
const referenceCount = (s: string): number => reference.encode(s, [], []).length;

/** Deterministic pseudo-random numbers, so a failure reproduces. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
}

const WORDS = ['knowledge', 'base', 'retrieval', 'segment', 'the', 'of', 'PostgreSQL', 'vector'];

/** Mixed Chinese and English paragraphs with random (so mostly unique) Chinese characters. */
function corpus(chars: number, seed = 7): string {
  const r = random(seed);
  const zh = (n: number): string =>
    Array.from({ length: n }, () => String.fromCharCode(0x4e00 + Math.floor(r() * 3000))).join('');
  let text = '';
  while (text.length < chars) {
    const sentences: string[] = [];
    for (let i = 0, k = 3 + Math.floor(r() * 6); i < k; i++) {
      sentences.push(
        r() < 0.5
          ? zh(8 + Math.floor(r() * 30)) + (r() < 0.5 ? '，' : '。')
          : Array.from(
              { length: 5 + Math.floor(r() * 15) },
              () => WORDS[Math.floor(r() * WORDS.length)],
            ).join(' ') + '. ',
      );
    }
    text += sentences.join('') + (r() < 0.3 ? '\n\n' : '\n');
  }
  return text;
}

const rule = (over: Partial<SegmentRule> = {}): SegmentRule => ({
  ...DEFAULT_PROCESS_RULE.segment,
  ...over,
});

describe('countTokens', () => {
  it('counts exactly as js-tiktoken cl100k_base', () => {
    const samples = [
      '',
      'hello world',
      "It's the user's PostgreSQL 16.4 database, isn't it?",
      '知识库是一个用于存储文档的系统，支持检索。',
      '  \n\n\t indented\r\n',
      'ééé 👍🏽 مرحبا Привет',
      // Long pieces (one regex match each) go through the heap merge.
      '知'.repeat(500) + '识库'.repeat(300),
      'a'.repeat(1000),
      'ZmFrZWJhc2U2NGRhdGFoZXJlYW5kbW9yZQ'.repeat(40),
      corpus(20_000, 3),
    ];
    for (const s of samples) expect(countTokens(s)).toBe(referenceCount(s));
  });

  it('matches js-tiktoken on random byte soup (unique pieces, small and long)', () => {
    const r = random(11);
    const alphabet = 'abcXYZ 数据库知识检索，。\n\t0123!?é👍'.split('');
    for (let i = 0; i < 200; i++) {
      const len = 1 + Math.floor(r() * (i % 10 === 0 ? 400 : 40));
      const s = Array.from({ length: len }, () => alphabet[Math.floor(r() * alphabet.length)]).join(
        '',
      );
      expect(countTokens(s)).toBe(referenceCount(s));
    }
  });

  it('reads special tokens in a document as text instead of throwing', () => {
    const s = 'before <|endoftext|> after';
    expect(() => reference.encode(s)).toThrow();
    expect(countTokens(s)).toBe(referenceCount(s));
  });
});

describe('splitText', () => {
  it('keeps every segment within chunk_size tokens and reports its exact token count', async () => {
    const text = corpus(60_000);
    const segments = await splitText(text, rule({ chunk_size: 200, chunk_overlap: 20 }));
    expect(segments.length).toBeGreaterThan(20);
    for (const s of segments) {
      expect(s.token_count).toBe(referenceCount(s.content));
      expect(s.token_count).toBeLessThanOrEqual(200);
      expect(s.content.trim()).toBe(s.content);
      expect(s.content).not.toBe('');
    }
  });

  it('splits Chinese at sentence ends, treating each separator as a regex', async () => {
    const sentence = (i: number): string => `第${i}句话讲的是知识库的检索和分段方法`;
    // One long line: no \n\n or \n, so "。|！|？" (a regex alternation) must do the work.
    const text = Array.from({ length: 60 }, (_, i) => sentence(i) + (i % 2 ? '！' : '。')).join('');
    const segments = await splitText(text, rule({ chunk_size: 100, chunk_overlap: 0 }));
    expect(segments.length).toBeGreaterThan(3);
    // The separator is kept at the start of the piece after it, as the original
    // (keep_separator=True): every segment but the first starts at a sentence end.
    for (const s of segments.slice(1)) expect(s.content).toMatch(/^[。！]第\d+句/);
    expect(segments.map((s) => s.content).join('')).toBe(text);
  });

  it('overlaps consecutive segments by up to chunk_overlap tokens', async () => {
    const text = Array.from({ length: 400 }, (_, i) => `word${i}`).join(' ');
    const segments = await splitText(text, rule({ chunk_size: 100, chunk_overlap: 30 }));
    expect(segments.length).toBeGreaterThan(5);
    for (let i = 1; i < segments.length; i++) {
      const last = segments[i - 1].content.split(' ').at(-1) as string;
      expect(segments[i].content.split(' ')).toContain(last);
    }
    const none = await splitText(text, rule({ chunk_size: 100, chunk_overlap: 0 }));
    expect(none.length).toBeLessThan(segments.length);
  });

  it('drops whitespace-only segments', async () => {
    const text = `first paragraph\n\n${' '.repeat(30)}\n\n\t\t\n\nsecond paragraph`;
    const segments = await splitText(text, rule({ chunk_size: 100, chunk_overlap: 0 }));
    expect(segments.map((s) => s.content.trim())).toEqual([
      expect.stringContaining('first paragraph'),
    ]);
    expect(segments[0].content).toContain('second paragraph');
    const small = await splitText(text, rule({ chunk_size: 4, chunk_overlap: 0 }));
    expect(small.every((s) => s.content.trim() !== '')).toBe(true);
    expect(small.map((s) => s.content).join(' ')).toMatch(/first.*second/s);
  });

  it('still bounds segments when the rule has no "" fallback', async () => {
    const text = '知识库'.repeat(2000) + '\n\n' + 'short';
    const segments = await splitText(text, {
      separators: ['\n\n'],
      chunk_size: 100,
      chunk_overlap: 0,
    });
    expect(Math.max(...segments.map((s) => s.token_count))).toBeLessThanOrEqual(100);
  });

  it('gives the event loop turns while it splits a large text', async () => {
    // One process may run the API and the indexing worker: a split of megabytes must not hold
    // every request until it ends. Timers only run when the loop gets a turn.
    const text = corpus(1_000_000, 11);
    // Loading the splitter and the tokenizer's ranks happens once, before this is measured.
    await splitText(corpus(2000, 3), DEFAULT_PROCESS_RULE.segment);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const started = performance.now();
    let ms: number;
    try {
      await splitText(text, DEFAULT_PROCESS_RULE.segment);
      ms = performance.now() - started;
    } finally {
      clearInterval(timer);
    }
    // A turn at least every 20 ms of work (the bound leaves room for a slow timer).
    expect(ms).toBeGreaterThan(40);
    expect(ticks).toBeGreaterThanOrEqual(Math.floor(ms / 100));
    expect(ticks).toBeGreaterThan(0);
  });

  it('never cuts a character outside the BMP in half', async () => {
    const text = '👍🏽'.repeat(500);
    const segments = await splitText(text, rule({ chunk_size: 100, chunk_overlap: 0 }));
    expect(segments.length).toBeGreaterThan(1);
    expect(segments.map((s) => s.content).join('')).toBe(text);
    for (const s of segments) expect(s.content).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  it('runs separators shaped for catastrophic backtracking in linear time (RE2)', async () => {
    const text = 'a'.repeat(5000) + '\n' + 'b'.repeat(3000);
    for (const bad of [
      '(a+)+',
      '(\\s*)*$',
      '(x|y+){2,}',
      '.*.*.*x',
      '(a|a)*b',
      '((a+))+b',
      '(.*a){12}',
    ]) {
      // A backtracking engine takes from seconds to hours on each of these.
      const segments = await splitText(
        text,
        rule({ separators: [bad], chunk_size: 1000, chunk_overlap: 0 }),
      );
      const letters = (s: string) => s.replace(/\s/g, '');
      expect(letters(segments.map((s) => s.content).join(''))).toBe(letters(text));
    }
    expect(() => compileSeparators(['x'.repeat(101)])).toThrow(/longer than 100 characters/);
    expect(compileSeparators(DEFAULT_PROCESS_RULE.segment.separators)).toHaveLength(8);
  });

  it('cuts before each match of a quantified separator, matches not overlapping (as re.split)', () => {
    const [digits, spaces, maybe] = compileSeparators(['\\d+', '\\s*', 'ab?']);
    expect(digits.split('a1b22c333d')).toEqual(['a', '1b', '22c', '333d']);
    expect(digits.test('abc')).toBe(false);
    expect(digits.test('ab3')).toBe(true);
    expect(spaces.split('x y')).toEqual(['x', ' ', 'y']);
    expect(maybe.split('aab😀ab')).toEqual(['a', 'ab😀', 'ab']);
    // The flat (V8) path gives the same pieces for a flat pattern.
    const [flat] = compileSeparators(['。|！']);
    expect(flat.split('一。二！三')).toEqual(['一', '。二', '！三']);
  });

  it('refuses lookaround and backreferences with a clear message', () => {
    for (const bad of ['(?=x)', '(a)\\1']) {
      expect(() => compileSeparators([bad])).toThrow(
        `The separator "${bad}" uses lookaround or backreferences, which separators do not support`,
      );
    }
  });

  it('refuses a separator that is not a regex', async () => {
    expect(() => compileSeparators(['\n', '(unclosed'])).toThrow(InvalidSeparatorError);
    await expect(splitText('a b c', rule({ separators: ['[z-a]'] }))).rejects.toThrow(
      'The separator "[z-a]" is not a valid regular expression',
    );
  });

  // Measured on the 2-core dev box: 1 MB of mixed Chinese/English (random, so mostly unique
  // Chinese characters) with the default rule (500/50 tokens) gives ~1,600 segments in ~0.5 s
  // cold (incl. loading the ranks), ~3,300 segments/s; at 100 tokens, ~9,200 segments in
  // ~0.16-0.4 s. The bound below is loose so a busy machine does not fail it, but it still
  // catches a return to quadratic counting (js-tiktoken's encode alone takes ~3 s per 300 K
  // Chinese characters).
  it('splits 1 MB quickly', async () => {
    const text = corpus(1_000_000, 42);
    const started = performance.now();
    const segments = await splitText(text, DEFAULT_PROCESS_RULE.segment);
    const ms = performance.now() - started;
    expect(segments.length).toBeGreaterThan(1000);
    expect(ms).toBeLessThan(5000);
  });
});
