import type { ProcessRule } from './pipeline.types';

/* eslint-disable no-control-regex -- removing control characters is the point */
const CONTROL = /[\x00-\x08\x0B\x0C\x0E-\x1F\x7F\uFEFF\uFFFE\uFFFF]/g;
/* eslint-enable no-control-regex */
// A surrogate without its partner (text cut in the middle of an emoji, or broken extraction).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
// Runs of replacement characters, from undecodable bytes, carry no text.
const REPLACEMENT_RUN = /\uFFFD{2,}/g;

// Horizontal white space: tab, form feed, space, no-break and the Unicode spaces (incl. the
// ideographic space of Chinese text), as the original.
const SPACE_RUN = /[\t\f\x20\u00A0\u1680\u180E\u2000-\u200A\u202F\u205F\u3000]{2,}/g;
const TRAILING_SPACE = /[\t\f\x20\u00A0\u1680\u180E\u2000-\u200A\u202F\u205F\u3000]+\n/g;
const BLANK_LINES = /\n{3,}/g;

// The original's patterns, except that a URL also ends at Chinese text and full-width
// punctuation ("见https://a.com。然后" would otherwise lose "。然后").
const EMAIL = /[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+/g;
const URL = /https?:\/\/[^\s\u3000-\u303F\u4E00-\u9FFF\uFF00-\uFFEF<>"]+/g;
// Markdown links and images to a URL, removed first so the bare-URL pattern does not eat ")":
// an image goes entirely, a link keeps its text.
const MD_IMAGE = /!\[[^\]\n]*\]\(\s*https?:\/\/[^)\s]*(?:\s+"[^"\n]*")?\s*\)/g;
const MD_LINK = /\[([^\]\n]*)\]\(\s*https?:\/\/[^)\s]*(?:\s+"[^"\n]*")?\s*\)/g;

/** `text` with `pattern` replaced, scanned only when `needle` (which every match contains) is there. */
function replaceIf(text: string, needle: string, pattern: RegExp, replacement: string): string {
  return text.includes(needle) ? text.replace(pattern, replacement) : text;
}

/** String.prototype.isWellFormed (ES2024, Node 20): no lone surrogate. */
const isWellFormed = (text: string): boolean =>
  (text as string & { isWellFormed(): boolean }).isWellFormed();

/**
 * Cleans parsed text before splitting. Always: one newline style, no control characters except
 * \n and \t, no broken surrogates, "<|" / "|>" defused (they would read as model special tokens,
 * as the original does). Then the rule's enabled pre-processing steps. Patterns whose every match
 * contains a fixed string ("@", "://", "](") only scan text that contains it: on a large document
 * the email pattern alone costs a second.
 */
export function cleanText(text: string, rule: ProcessRule): string {
  let out = replaceIf(text, '\r', /\r\n?/g, '\n').replace(CONTROL, '');
  if (!isWellFormed(out)) out = out.replace(LONE_SURROGATE, '\uFFFD');
  out = replaceIf(out, '\uFFFD\uFFFD', REPLACEMENT_RUN, '\uFFFD');
  out = replaceIf(out, '<|', /<\|/g, '<');
  out = replaceIf(out, '|>', /\|>/g, '>');
  const enabled = new Set(rule.pre_process_rules.filter((r) => r.enabled).map((r) => r.id));
  if (enabled.has('remove_url_and_email')) {
    out = replaceIf(out, '](', MD_IMAGE, '');
    out = replaceIf(out, '](', MD_LINK, '$1');
    out = replaceIf(out, '@', EMAIL, '');
    out = replaceIf(out, '://', URL, '');
  }
  if (enabled.has('remove_extra_space')) {
    out = out.replace(SPACE_RUN, ' ').replace(TRAILING_SPACE, '\n').replace(BLANK_LINES, '\n\n');
  }
  return out;
}
