/**
 * The text pipeline of the knowledge base, as pure functions: parse a file to text, clean it,
 * split it into segments, count tokens, extract keywords and build the text full-text search
 * indexes. The indexing job (indexing.processor.ts) strings them together.
 *
 * Implemented in: parsers.ts (parseDocument), cleaner.ts (cleanText), splitter.ts (splitText,
 * countTokens), keywords.ts (extractKeywords, searchTerms).
 */

export type PreProcessRuleId = 'remove_extra_space' | 'remove_url_and_email';

export interface SegmentRule {
  /** Regex sources, tried in order (as the original: "\n\n", "\n", "。|！|？", ...). */
  separators: string[];
  /** Tokens, 100-1000. */
  chunk_size: number;
  /** Tokens, 0..chunk_size/2. */
  chunk_overlap: number;
}

export interface ProcessRule {
  pre_process_rules: Array<{ id: PreProcessRuleId; enabled: boolean }>;
  segment: SegmentRule;
}

/** The original's default rule (CONSOLE-SHAPES §2.3). */
export const DEFAULT_PROCESS_RULE: ProcessRule = {
  pre_process_rules: [
    { id: 'remove_extra_space', enabled: true },
    { id: 'remove_url_and_email', enabled: true },
  ],
  segment: {
    separators: ['\n\n', '\n', '。|！|？', '\\.\\s|\\!\\s|\\?\\s', '；|;\\s', '，|,\\s', ' ', ''],
    chunk_size: 500,
    chunk_overlap: 50,
  },
};

export interface ParseInput {
  bytes: Buffer;
  /** Lowercase, no dot: txt md markdown pdf html htm docx doc csv xlsx xls json. */
  extension: string;
  /** For messages. */
  name: string;
}

export interface ParseOptions {
  signal?: AbortSignal;
  /** Stop with DocumentParseError when the text grows beyond this many characters. */
  maxChars?: number;
  /**
   * Most bytes a docx/xlsx may unpack to, or a PDF's compressed streams (images aside) may
   * inflate to (default 100 MB): bombs are refused before a library inflates them.
   */
  maxUnzippedBytes?: number;
}

/** A file that cannot be turned into text, with a message the user can act on. */
export class DocumentParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DocumentParseError';
  }
}

export interface TextSegment {
  content: string;
  token_count: number;
}
