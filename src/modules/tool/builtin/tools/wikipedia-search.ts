import type { BuiltinToolImpl } from './builtin-tool.impl';
import { Upstream } from './upstream';

interface SearchAnswer {
  query?: { search?: Array<{ title?: unknown }> };
}
interface ExtractsAnswer {
  query?: {
    pages?: Array<{ title?: unknown; extract?: unknown; missing?: unknown }>;
    redirects?: Array<{ from?: unknown; to?: unknown }>;
    normalized?: Array<{ from?: unknown; to?: unknown }>;
  };
}

/** As the original (LangChain's WikipediaAPIWrapper): at most this many characters in all. */
const MAX_CHARS = 4000;
const NONE = 'No good Wikipedia Search Result was found';

function apiUrl(base: string, lang: string, query: Record<string, string>): URL {
  const url = new URL(`${base.replaceAll('{lang}', lang).replace(/\/+$/, '')}/w/api.php`);
  for (const [k, v] of Object.entries({ ...query, format: 'json', formatversion: '2' }))
    url.searchParams.set(k, v);
  return url;
}

/** Search titles, then the plain-text intro of each: "Page: ...\nSummary: ..." blocks. */
export const wikipediaSearch: BuiltinToolImpl = {
  async run({ args, params, signal, http, env }) {
    const lang = typeof params.language === 'string' ? params.language : 'en';
    const topK = Number(params.top_k ?? 3);
    const query = String(args.query).trim().slice(0, 300);
    const upstream = new Upstream(http, 'Wikipedia', signal);
    const base = env.WIKIPEDIA_BASE_URL;
    const found = await upstream.json<SearchAnswer>(
      apiUrl(base, lang, {
        action: 'query',
        list: 'search',
        srsearch: query,
        srlimit: String(topK),
        srprop: '',
      }),
    );
    const titles = (found?.query?.search ?? [])
      .map((s) => s.title)
      .filter((t): t is string => typeof t === 'string' && t.length > 0)
      .slice(0, topK);
    if (!titles.length) return NONE;
    const pages = await upstream.json<ExtractsAnswer>(
      apiUrl(base, lang, {
        action: 'query',
        prop: 'extracts',
        exintro: '1',
        explaintext: '1',
        exlimit: String(titles.length),
        redirects: '1',
        titles: titles.join('|'),
      }),
    );
    // The API answers pages in its own order and under redirected names: map back to the search order.
    const renamed = new Map<string, string>();
    for (const r of [...(pages?.query?.normalized ?? []), ...(pages?.query?.redirects ?? [])])
      if (typeof r.from === 'string' && typeof r.to === 'string') renamed.set(r.from, r.to);
    const byTitle = new Map<string, string>();
    for (const p of pages?.query?.pages ?? [])
      if (typeof p.title === 'string' && typeof p.extract === 'string' && !p.missing)
        byTitle.set(p.title, p.extract.trim());
    const blocks: string[] = [];
    for (const title of titles) {
      let name = title;
      for (let i = 0; i < 3 && renamed.has(name); i++) name = renamed.get(name)!;
      const summary = byTitle.get(name);
      if (summary) blocks.push(`Page: ${name}\nSummary: ${summary}`);
    }
    return blocks.length ? blocks.join('\n\n').slice(0, MAX_CHARS) : NONE;
  },
};
