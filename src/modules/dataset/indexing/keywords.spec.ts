import { Jieba, TfIdf } from '@node-rs/jieba';
import { dict, idf } from '@node-rs/jieba/dict';
import { ADMIN_DATABASE_URL } from '@test/support/test-env';
import { Client } from 'pg';
import { extractKeywords, hanRuns, searchQuery, searchTerms } from './keywords';

const MIXED =
  'The Knowledge Base stores documents. 知识库用于存储文档，并支持向量检索和全文检索。' +
  'The knowledge base uses PostgreSQL and the the the of. 知识库的检索很快。' +
  'LangChain splitters split text.';

describe('extractKeywords', () => {
  it('takes Chinese words by TF-IDF and other words by frequency, lowercased, no stopwords', () => {
    const keywords = extractKeywords(MIXED);
    expect(keywords.length).toBe(10);
    expect(keywords.slice(0, 3)).toEqual(expect.arrayContaining(['知识库', 'knowledge', 'base']));
    expect(keywords).toContain('检索');
    expect(keywords).toContain('postgresql');
    for (const stop of ['the', 'of', 'and', '的', 'The', 'Knowledge']) {
      expect(keywords).not.toContain(stop);
    }
    expect(new Set(keywords).size).toBe(keywords.length);
  });

  it('respects max and handles empty, Chinese-only and English-only text', () => {
    expect(extractKeywords(MIXED, 3)).toHaveLength(3);
    expect(extractKeywords('', 5)).toEqual([]);
    expect(extractKeywords('   \n', 5)).toEqual([]);
    expect(extractKeywords(MIXED, 0)).toEqual([]);
    const zh = extractKeywords('向量数据库用于存储向量。向量检索依赖向量数据库的索引。', 4);
    expect(zh).toContain('向量');
    expect(zh.every((k) => /\p{Script=Han}/u.test(k))).toBe(true);
    expect(extractKeywords('Retrieval retrieval RETRIEVAL of segments and segments', 2)).toEqual([
      'retrieval',
      'segments',
    ]);
  });

  it('ignores numbers and one-letter words, and splits words glued to Chinese', () => {
    const keywords = extractKeywords('PostgreSQL数据库 2024 x y 3.14 PostgreSQL');
    expect(keywords).toContain('postgresql');
    expect(keywords).not.toContain('2024');
    expect(keywords).not.toContain('x');
  });
});

describe('searchTerms / searchQuery', () => {
  it('segments Chinese in search mode, lowercases and drops punctuation', () => {
    expect(searchTerms('中华人民共和国的知识库，Hello-World! foo_bar 3.14')).toBe(
      '中华 华人 人民 共和 共和国 中华人民共和国 的 知识 知识库 hello world foo bar 3 14',
    );
    // Full-width letters are folded (NFKC), so "ＡＢＣ" matches "abc".
    expect(searchTerms('ＡＢＣ')).toBe('abc');
    expect(searchTerms('')).toBe('');
  });

  it('weighs Chinese words from the runs holding Han exactly as from the whole text', () => {
    // extractKeywords hands jieba's TF-IDF only hanRuns(text): the Chinese words must come out
    // in the same order as from the whole text (weights differ only by the common word total).
    const jieba = Jieba.withDict(dict);
    const tfidf = TfIdf.withDict(idf);
    const han = (text: string): string[] =>
      tfidf
        .extractKeywords(jieba, text, 10_000)
        .map((k) => k.keyword)
        .filter((w) => /\p{Script=Han}/u.test(w));
    const alphabet = [
      ...'知识库中华人民共和国的向量检索数据库恤卡拉',
      ...['T恤', '卡拉OK', 'B超', '〇', '々', '\u{20000}', '\u3400', '⺀'],
      ...'abcXYZ019+#&._%-',
      ...[' ', '  ', '\t', '\n', '\r\n', '\u3000', '\u00a0', '\u2028'],
      ...['。', '，', ',', '!', 'é', 'PostgreSQL', 'iPhone', 'C++', '3.14', 'the ', 'of '],
    ];
    let seed = 11;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 400; i++) {
      const text = Array.from(
        { length: 1 + Math.floor(rnd() * 80) },
        () => alphabet[Math.floor(rnd() * alphabet.length)],
      )
        .join('')
        .normalize('NFKC');
      expect(han(hanRuns(text))).toEqual(han(text));
    }
    expect(hanRuns('The base 知识库, PostgreSQL数据库 and\u3000检索。 end')).toBe(
      '知识库, PostgreSQL数据库 检索。',
    );
  });

  it('gives the terms of jieba cutting the whole text, run by run', () => {
    // The reference: the whole text through jieba at once, every piece split into words.
    const jieba = Jieba.withDict(dict);
    const reference = (text: string): string => {
      const normalized = text.normalize('NFKC').toLowerCase();
      const pieces = /\p{Script=Han}/u.test(normalized)
        ? jieba.cutForSearch(normalized, true)
        : [normalized];
      return pieces.flatMap((p) => p.match(/[\p{L}\p{M}\p{N}]+/gu) ?? []).join(' ');
    };
    const alphabet = [
      ...'知识库中华人民共和国的向量检索数据库',
      ...'abcXYZ019+#&._%-',
      ...[' ', '  ', '\t', '\n', '\r\n', '\u3000', '\u00a0', '\u0085', '\ufeff', '\u2028'],
      ...['。', '，', ',', '!', 'é', 'ß', 'İ', 'ǅ', '😀', 'PostgreSQL', 'iPhone', 'C++', '3.14'],
    ];
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 400; i++) {
      const text = Array.from(
        { length: 1 + Math.floor(rnd() * 60) },
        () => alphabet[Math.floor(rnd() * alphabet.length)],
      ).join('');
      expect(searchTerms(text)).toBe(reference(text));
      // Again, now from the cache.
      expect(searchTerms(text)).toBe(reference(text));
    }
  });

  it('gives distinct query terms without stopwords (unless nothing else is left)', () => {
    expect(searchQuery('知识库的检索')).toEqual(['知识', '知识库', '检索']);
    expect(searchQuery('How do I use the Knowledge Base? knowledge')).toEqual([
      'knowledge',
      'base',
    ]);
    expect(searchQuery('the of')).toEqual(['the', 'of']);
    expect(searchQuery('？！')).toEqual([]);
  });

  it('lets PostgreSQL simple full-text search match a Chinese query against Chinese text', async () => {
    // The running PostgreSQL (C.UTF-8, like production); PGlite's parser agrees.
    const db = new Client({ connectionString: ADMIN_DATABASE_URL });
    await db.connect();
    try {
      const match = async (doc: string, query: string, op: string): Promise<boolean> => {
        const tsquery = searchQuery(query).join(` ${op} `);
        const { rows } = await db.query<{ m: boolean }>(
          `select to_tsvector('simple', $1) @@ to_tsquery('simple', $2) as m`,
          [searchTerms(doc), tsquery],
        );
        return rows[0].m;
      };
      const doc = '我们的知识库支持全文检索和向量检索，底层使用PostgreSQL。';
      expect(await match(doc, '知识库检索', '&')).toBe(true);
      expect(await match(doc, '知识库', '&')).toBe(true);
      expect(await match(doc, '全文', '&')).toBe(true);
      expect(await match(doc, 'postgresql', '&')).toBe(true);
      expect(await match(doc, '知识库 天气', '&')).toBe(false);
      expect(await match(doc, '知识库 天气', '|')).toBe(true);
      expect(await match(doc, '今天天气很好', '|')).toBe(false);
    } finally {
      await db.end();
    }
  });
});
