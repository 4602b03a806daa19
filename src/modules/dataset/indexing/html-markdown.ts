// Not the @app/common barrel: the reader thread loads this file, and the barrel brings Nest.
import { lazyRequire } from '@app/common/lazy-require';
import type TurndownService from 'turndown';

const cheerioLib = lazyRequire<typeof import('cheerio')>('cheerio');
const turndownLib = lazyRequire<typeof import('turndown')>('turndown');

/** Elements that are never document text: code, styling, navigation, embedded media. */
const NOISE = [
  'script',
  'style',
  'noscript',
  'template',
  'nav',
  'iframe',
  'frame',
  'object',
  'embed',
  'svg',
  'canvas',
  'link',
  'meta',
  'button',
  '[hidden]',
  '[aria-hidden="true"]',
].join(',');

function createTurndown(): TurndownService {
  const Turndown = turndownLib();
  const td = new Turndown({
    headingStyle: 'atx',
    codeBlockStyle: 'fenced',
    bulletListMarker: '-',
    emDelimiter: '*',
  });
  // Markdown escaping ("1\." "\_") is noise in retrieved text and in embeddings.
  td.escape = (text: string) => text;
  // Images carry no text (and from mammoth no source); a link is kept as its text, since a URL
  // says little to a reader and pre-processing may strip it anyway.
  td.addRule('no-images', { filter: 'img', replacement: () => '' });
  td.addRule('link-text', { filter: 'a', replacement: (content) => content });
  // Turndown has no table support: a row becomes "| a | b |" on one line, so it stays one unit.
  td.addRule('table-cell', {
    filter: ['th', 'td'],
    replacement: (content) => ` ${content.replace(/\s*\n+\s*/g, ' ').trim()} |`,
  });
  td.addRule('table-row', {
    filter: 'tr',
    replacement: (content) => (content.trim() ? `\n|${content}` : ''),
  });
  td.addRule('table', {
    filter: ['table'],
    replacement: (content) => `\n\n${content.replace(/^\n+/, '')}\n\n`,
  });
  td.addRule('table-section', {
    filter: ['thead', 'tbody', 'tfoot'],
    replacement: (content) => content,
  });
  return td;
}

let turndown: TurndownService | undefined;

/**
 * HTML (a page or mammoth's output) to Markdown text: headings, lists, emphasis, code and tables
 * stay readable; scripts, styles, navigation and media go. A <title> becomes the first heading
 * when the page has no <h1>.
 */
export function htmlToMarkdown(html: string): string {
  const $ = cheerioLib().load(html);
  $(NOISE).remove();
  const title = $('head > title').first().text().trim();
  const body = $('body').length ? ($('body').html() ?? '') : ($.root().html() ?? '');
  turndown ??= createTurndown();
  const markdown = turndown.turndown(body).trim();
  return title && $('h1').length === 0 ? `# ${title}\n\n${markdown}`.trim() : markdown;
}
