import { KeywordMasker } from './keyword-masker';

const streamed = (m: KeywordMasker, chunks: string[]): string =>
  chunks.map((c) => m.push(c)).join('') + m.flush();

describe('KeywordMasker', () => {
  it('masks every keyword case-insensitively, as the original', () => {
    const m = new KeywordMasker(['secret', 'Bad']);
    expect(m.mask('A SECRET is bad, Secret!')).toBe('A ** is **, **!');
  });

  it('masks a keyword split across chunks, holding back only what could still match', () => {
    const m = new KeywordMasker(['password']);
    expect(m.push('my pass')).toBe('my ');
    expect(m.push('wo')).toBe('');
    expect(m.push('rd is x')).toBe('** is x');
    expect(m.flush()).toBe('');
  });

  it('releases a held tail that turned out not to be a keyword', () => {
    const m = new KeywordMasker(['password']);
    expect(m.push('a pas')).toBe('a ');
    expect(m.push('ta dish')).toBe('pasta dish');
    expect(streamed(new KeywordMasker(['password']), ['ends with pa'])).toBe('ends with pa');
  });

  it('gives the same text streamed in any chunking as masked at once', () => {
    const keywords = ['foo', 'foobar', 'bar baz', '敏感'];
    const text = 'FOObar and bar baz, foo fo 敏感词 bar ba';
    const whole = new KeywordMasker(keywords).mask(text);
    expect(whole).toBe('** and **, ** fo **词 bar ba');
    for (let size = 1; size <= 6; size++) {
      const chunks: string[] = [];
      for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
      expect(streamed(new KeywordMasker(keywords), chunks)).toBe(whole);
    }
  });

  it('passes text through untouched without keywords', () => {
    const m = new KeywordMasker(['']);
    expect(m.push('anything')).toBe('anything');
    expect(m.flush()).toBe('');
  });

  it('treats keywords literally (no regular expressions)', () => {
    expect(new KeywordMasker(['a.b', '(x)']).mask('a.b axb (x) x')).toBe('** axb ** x');
  });
});
