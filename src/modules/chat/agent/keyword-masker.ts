const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Output review: every keyword in the answer becomes `**`, case-insensitively (the original's
 * `re.sub(keyword, "**", flags=IGNORECASE)`). The original masked each streamed chunk on its own,
 * so a keyword split across two chunks went through; here the masker holds back the end of the
 * text while it could still be the start of a keyword, and releases it with the next delta (or
 * at `flush`). Overlapping keywords: the longest match at the leftmost position wins.
 */
export class KeywordMasker {
  private readonly pattern: RegExp | null;
  private readonly lower: string[];
  private readonly longest: number;
  private pending = '';

  constructor(keywords: string[]) {
    const list = [...new Set(keywords.filter((k) => k.length > 0))].sort(
      (a, b) => b.length - a.length,
    );
    this.pattern = list.length ? new RegExp(list.map(escapeRegExp).join('|'), 'giu') : null;
    this.lower = list.map((k) => k.toLowerCase());
    this.longest = list.reduce((n, k) => Math.max(n, k.length), 0);
  }

  /** Masks a whole text at once. */
  mask(text: string): string {
    return this.pattern ? text.replace(this.pattern, '**') : text;
  }

  /** The masked text that can be released now that `delta` arrived. */
  push(delta: string): string {
    if (!this.pattern) return delta;
    const text = this.pending + delta;
    // Hold back from the first position whose rest could still grow into a keyword...
    let cut = text.length;
    for (let s = Math.max(0, text.length - this.longest + 1); s < text.length; s++) {
      const tail = text.slice(s).toLowerCase();
      if (this.lower.some((k) => k.length > tail.length && k.startsWith(tail))) {
        cut = s;
        break;
      }
    }
    // ...and never cut through a match (matches do not overlap, so one step back is enough).
    for (const m of text.matchAll(this.pattern)) {
      if (m.index < cut && m.index + m[0].length > cut) {
        cut = m.index;
        break;
      }
    }
    this.pending = text.slice(cut);
    return this.mask(text.slice(0, cut));
  }

  /** Whatever is still held back, masked; the masker is empty afterwards. */
  flush(): string {
    const rest = this.mask(this.pending);
    this.pending = '';
    return rest;
  }
}
