export * from './pipeline.types';
export { parseDocument, detectDelimiter, DEFAULT_MAX_CHARS } from './parsers';
export { cleanText } from './cleaner';
export { splitText, countTokens, compileSeparators, InvalidSeparatorError } from './splitter';
export { extractKeywords, searchTerms, searchQuery } from './keywords';
export { DEFAULT_ZIP_LIMITS, type ZipLimits } from './zip-guard';
