import { lazyRequire } from '@app/common';

const cheerioLib = lazyRequire<typeof import('cheerio')>('cheerio');
import { ToolCallError } from 'src/modules/tool/runtime/tool.types';
import type { BuiltinToolImpl } from './builtin-tool.impl';
import { joinUrl, Upstream } from './upstream';

export interface SearchHit {
  title: string;
  url: string;
  snippet: string;
}

const text = (s: string) => s.replace(/\s+/g, ' ').trim();

/** Result links go through DuckDuckGo's redirector (`//duckduckgo.com/l/?uddg=<url>`): unwrap it. */
function targetOf(href: string): string {
  try {
    const url = new URL(href, 'https://duckduckgo.com');
    const wrapped = url.pathname === '/l/' ? url.searchParams.get('uddg') : null;
    const target = new URL(wrapped ?? url.href);
    return target.protocol === 'http:' || target.protocol === 'https:' ? target.href : '';
  } catch {
    return '';
  }
}

/** The organic results of DuckDuckGo's HTML page (ads left out). */
export function parseDuckDuckGoHtml(html: string, max: number): SearchHit[] {
  const $ = cheerioLib().load(html);
  const hits: SearchHit[] = [];
  $('.result').each((_i, el) => {
    if (hits.length >= max) return false;
    const node = $(el);
    if (node.hasClass('result--ad')) return;
    const link = node.find('a.result__a').first();
    const url = targetOf(link.attr('href') ?? '');
    const title = text(link.text());
    if (!url || !title) return;
    hits.push({ title, url, snippet: text(node.find('.result__snippet').first().text()) });
  });
  return hits;
}

export const duckduckgoSearch: BuiltinToolImpl = {
  async run({ args, params, signal, http, env }) {
    const query = String(args.query).trim();
    const max = Number(params.max_results ?? 5);
    const upstream = new Upstream(http, 'DuckDuckGo', signal);
    // The HTML endpoint takes a form POST, as its own search box sends it.
    const res = await upstream.text(joinUrl(env.DUCKDUCKGO_BASE_URL, '/html/'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ q: query, b: '' }).toString(),
    });
    // 202 is its "unusual traffic" challenge page rather than results.
    if (res.status !== 200)
      throw new ToolCallError(
        `DuckDuckGo answered HTTP ${res.status} without results (it limits automated searches); try again later`,
      );
    const hits = parseDuckDuckGoHtml(res.body, max);
    return hits.length ? hits : 'No good DuckDuckGo Search Result was found';
  },
};
