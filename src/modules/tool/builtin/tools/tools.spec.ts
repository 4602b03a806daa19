import { formatNow, ianaZone } from './current-time';
import { parseDuckDuckGoHtml } from './duckduckgo-search';
import { formatSerperResults } from './google-serper';
import { joinUrl, redact } from './upstream';

describe('builtin tool helpers', () => {
  it('formats the time in a zone with its offset', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    expect(formatNow(at, 'Asia/Kolkata')).toBe('2026-01-01 05:30:00 Asia/Kolkata (UTC+05:30)');
    expect(formatNow(at, 'UTC')).toBe('2026-01-01 00:00:00 UTC (UTC+00:00)');
    expect(formatNow(at, 'America/New_York')).toBe(
      '2025-12-31 19:00:00 America/New_York (UTC-05:00)',
    );
  });

  it('accepts IANA zone names only', () => {
    expect(ianaZone('Europe/Paris')).toBe('Europe/Paris');
    expect(ianaZone('US/Pacific')).toBe('America/Los_Angeles');
    for (const bad of ['Mars/Olympus', '+08:00', '', '../etc', 'Europe/Paris; rm'])
      expect(ianaZone(bad)).toBeNull();
  });

  it('parses DuckDuckGo results: redirect and direct links, no ads, no script links', () => {
    const html = `
      <div class="result result--ad"><a class="result__a" href="https://ads.test/">Ad</a></div>
      <div class="result"><a class="result__a" href="//duckduckgo.com/l/?uddg=https%3A%2F%2Fa.test%2Fx&amp;rut=1">A
        <b>title</b></a><a class="result__snippet">first   snippet</a></div>
      <div class="result"><a class="result__a" href="javascript:alert(1)">Bad</a></div>
      <div class="result"><a class="result__a" href="https://b.test/">B</a></div>
      <div class="result"><a class="result__a" href="https://c.test/">C</a></div>`;
    expect(parseDuckDuckGoHtml(html, 2)).toEqual([
      { title: 'A title', url: 'https://a.test/x', snippet: 'first snippet' },
      { title: 'B', url: 'https://b.test/', snippet: '' },
    ]);
    expect(parseDuckDuckGoHtml('<div class="no-results">No results.</div>', 5)).toEqual([]);
  });

  it('formats Serper results as the original did', () => {
    expect(formatSerperResults({ answerBox: { snippet: 'line one\nline two' } })).toBe(
      'line one line two',
    );
    expect(formatSerperResults({ answerBox: { snippetHighlighted: ['a', 'b'] } })).toBe('a b');
    expect(
      formatSerperResults(
        { organic: [{ snippet: 's1' }, { snippet: 's2' }, { snippet: 's3' }] },
        2,
      ),
    ).toBe('s1 s2');
    expect(formatSerperResults({})).toBe('No good Google Search Result was found');
    expect(formatSerperResults('not an object')).toBe('No good Google Search Result was found');
  });

  it('redacts a key from text and joins URLs', () => {
    expect(redact('bad key abc123 (abc123)', 'abc123')).toBe('bad key *** (***)');
    expect(redact('nothing', undefined)).toBe('nothing');
    expect(joinUrl('https://x.test/v1/', '/images/generations').href).toBe(
      'https://x.test/v1/images/generations',
    );
  });
});
