/**
 * `to_tsvector('simple', terms.join(' '))` built in JavaScript, as a tsvector literal. PostgreSQL's
 * text-search parser is the costly part of indexing a segment (about 0.7 ms per 2 KB segment,
 * most of the write), while reading a literal is a few times cheaper.
 *
 * Only terms the parser is known to read as exactly one token whose lexeme is the term itself
 * qualify: lowercase ASCII words, digit runs and runs of CJK Unified Ideographs. Then the parser
 * gives term i position i + 1, and the simple dictionary keeps each token as it is (lowercase). Any
 * other term, or a text beyond the parser's limits, returns null and the caller lets PostgreSQL
 * parse the text. TSVECTOR_PROBE lets the caller check that its server agrees before relying on it.
 */

const ONE_TOKEN = /^(?:[a-z]+|[0-9]+|[\u4e00-\u9fff]+)$/;
/** Positions from 16384 on are clamped by PostgreSQL (MAXENTRYPOS). */
const MAX_TERMS = 16_383;
/** Lexemes of 2048 bytes or more are skipped by the parser (MAXSTRLEN); 3 bytes per character. */
const MAX_TERM_CHARS = 600;
/** A lexeme keeps at most 256 positions (MAXNUMPOS). */
const MAX_POSITIONS = 255;

export function tsvectorLiteral(terms: string[]): string | null {
  if (terms.length > MAX_TERMS) return null;
  const positions = new Map<string, number[]>();
  for (let i = 0; i < terms.length; i++) {
    const term = terms[i];
    const list = positions.get(term);
    if (list !== undefined) {
      if (list.push(i + 1) > MAX_POSITIONS) return null;
    } else if (term.length > MAX_TERM_CHARS || !ONE_TOKEN.test(term)) {
      return null;
    } else {
      positions.set(term, [i + 1]);
    }
  }
  const parts: string[] = [];
  for (const [term, list] of positions) parts.push(`'${term}':${list.join(',')}`);
  return parts.join(' ');
}

/** Terms of every kind tsvectorLiteral takes, repeated: the server must parse them the same way. */
export const TSVECTOR_PROBE = [
  'retrieval',
  '知识库',
  '2024',
  '知识',
  'retrieval',
  '中华人民共和国',
  'a',
  '0',
  '007',
  'x',
  '检索',
  'postgresql',
  '知识库',
];
