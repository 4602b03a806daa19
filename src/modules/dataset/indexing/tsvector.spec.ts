import { ADMIN_DATABASE_URL } from '@test/support/test-env';
import { Client } from 'pg';
import { searchTermList } from './keywords';
import { TSVECTOR_PROBE, tsvectorLiteral } from './tsvector';

const WORDS = 'Retrieval augmented generation embeds segments 2024 007 x Ｘ'.split(' ');
const HANZI = '知识库让模型引用文档回答问题向量检索关键词分词段落嵌入相似度排序召回的了'.split('');

/** Deterministic mixed English/Chinese/number text. */
function sample(seed: number, words: number): string {
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const out: string[] = [];
  for (let i = 0; i < words; i++) {
    out.push(
      rnd() < 0.4
        ? Array.from(
            { length: 1 + Math.floor(rnd() * 30) },
            () => HANZI[Math.floor(rnd() * HANZI.length)],
          ).join('') + '。'
        : WORDS[Math.floor(rnd() * WORDS.length)],
    );
  }
  return out.join(' ');
}

describe('tsvectorLiteral', () => {
  let db: Client;
  beforeAll(async () => {
    db = new Client({ connectionString: ADMIN_DATABASE_URL });
    await db.connect();
  });
  afterAll(() => db.end());

  /** What PostgreSQL makes of the terms, and of the literal. */
  const both = async (terms: string[], literal: string) => {
    const { rows } = await db.query<{ parsed: string; read: string }>(
      `SELECT to_tsvector('simple', $1)::text AS parsed, $2::tsvector::text AS read`,
      [terms.join(' '), literal],
    );
    return rows[0];
  };

  it('equals to_tsvector of the same terms on the running PostgreSQL', async () => {
    const texts = [
      ...Array.from({ length: 40 }, (_, i) => sample(i + 1, 20 + i * 10)),
      '中华人民共和国的知识库，Hello World! foo_bar 3.14 ＡＢＣ 2024年',
      'PostgreSQL数据库 and the knowledge base 知识库 知识库 知识库',
      TSVECTOR_PROBE.join(' '),
      '',
    ];
    let literals = 0;
    for (const text of texts) {
      const terms = searchTermList(text);
      const literal = tsvectorLiteral(terms);
      if (literal === null) continue;
      literals++;
      const { parsed, read } = await both(terms, literal);
      expect(read).toBe(parsed);
    }
    expect(literals).toBeGreaterThan(40);
  });

  it('leaves to PostgreSQL what its parser may read otherwise', () => {
    // Mixed letters and digits, accents, other scripts, long words, too many positions.
    for (const terms of [['v2'], ['café'], ['привет'], ['ab', 'c_d'], ['a'.repeat(601)]]) {
      expect(tsvectorLiteral(terms)).toBeNull();
    }
    expect(tsvectorLiteral(Array.from({ length: 256 }, () => 'same'))).toBeNull();
    expect(
      tsvectorLiteral(Array.from({ length: 16_384 }, (_, i) => `w${'abcdefghij'[i % 10]}`)),
    ).toBeNull();
    expect(tsvectorLiteral(['a', 'b', 'a'])).toBe("'a':1,3 'b':2");
  });
});
