import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * Fakes of the services behind the builtin tools, each on its own 127.0.0.1:0 server and each
 * speaking its real wire protocol:
 * - FakeDuckDuckGo: `POST /html/` (form `q`), the HTML results page (with an ad and the
 *   `//duckduckgo.com/l/?uddg=` redirect links), or its "No results." page.
 * - FakeSerper: `POST /search` (JSON `{q, gl, hl, num}`) with `X-API-KEY`; 403 without it.
 * - FakeDalle: OpenAI's `POST /v1/images/generations` with `Authorization: Bearer <key>`.
 * - FakeGaode: `GET /v3/config/district`, `/v3/weather/weatherInfo`, `/v3/ip` with `key=`;
 *   errors as HTTP 200 `{status: "0", info, infocode}` like the AMap web API.
 * - FakeWikipedia: MediaWiki's `GET /<lang>/w/api.php` (`list=search`, `prop=extracts`,
 *   formatversion 2), pages answered out of order and one title redirected.
 * Every request is recorded (`received`); `failNext(status, body)` answers the next one with an
 * error instead.
 */

export interface ReceivedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
  /** Raw body text. */
  body: string;
}

interface Canned {
  status: number;
  body: string;
  contentType: string;
  headers?: Record<string, string>;
}

abstract class FakeService {
  readonly received: ReceivedRequest[] = [];
  private readonly failures: Canned[] = [];
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private base = '';

  /** `http://127.0.0.1:<port>`; empty before `start()`. */
  get url(): string {
    return this.base;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://fake');
        const received: ReceivedRequest = {
          method: req.method ?? 'GET',
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        this.received.push(received);
        const failure = this.failures.shift();
        if (failure) {
          res.writeHead(failure.status, {
            ...failure.headers,
            'content-type': failure.contentType,
          });
          res.end(failure.body);
          return;
        }
        this.handle(received, res);
      });
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }

  /** The next request gets this answer instead of the normal one. */
  failNext(
    status: number,
    body: string,
    contentType = 'text/html; charset=utf-8',
    headers?: Record<string, string>,
  ): void {
    this.failures.push({ status, body, contentType, headers });
  }

  /** The next request is redirected (302) to `location`. */
  redirectNext(location: string): void {
    this.failNext(302, '', 'text/plain', { location });
  }

  last(): ReceivedRequest | undefined {
    return this.received[this.received.length - 1];
  }

  reset(): void {
    this.received.length = 0;
    this.failures.length = 0;
  }

  protected abstract handle(req: ReceivedRequest, res: ServerResponse): void;

  protected json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  }

  protected notFound(res: ServerResponse): void {
    this.json(res, 404, { error: 'no such route' });
  }
}

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export class FakeDuckDuckGo extends FakeService {
  /** Queries that find nothing. */
  static readonly EMPTY_QUERY = 'zzqx nothing at all';

  protected handle(req: ReceivedRequest, res: ServerResponse): void {
    if (req.method !== 'POST' || req.path.replace(/\/$/, '') !== '/html') return this.notFound(res);
    const q = new URLSearchParams(req.body).get('q') ?? '';
    res.writeHead(200, { 'content-type': 'text/html; charset=UTF-8' });
    if (!q || q === FakeDuckDuckGo.EMPTY_QUERY) {
      res.end(
        `<!DOCTYPE html><html><body><div id="links" class="results"><div class="no-results">No results.</div></div></body></html>`,
      );
      return;
    }
    const result = (n: number, ad = false) => {
      const target = `https://example${n}.test/page?q=${encodeURIComponent(q)}&n=${n}`;
      const href = ad
        ? `https://duckduckgo.com/y.js?ad_domain=ads.test&u3=x`
        : `//duckduckgo.com/l/?uddg=${encodeURIComponent(target)}&amp;rut=abc${n}`;
      return `
      <div class="result results_links results_links_deep web-result${ad ? ' result--ad' : ''}">
        <div class="links_main links_deep result__body">
          <h2 class="result__title"><a rel="nofollow" class="result__a" href="${href}">${ad ? 'Sponsored thing' : `Result ${n} about <b>${escapeHtml(q)}</b>`}</a></h2>
          <div class="result__extras"><div class="result__extras__url"><a class="result__url" href="${href}">example${n}.test/page</a></div></div>
          <a class="result__snippet" href="${href}">Snippet ${n}: all about
            <b>${escapeHtml(q)}</b>.</a>
        </div>
      </div>`;
    };
    const items = [result(0, true), ...Array.from({ length: 12 }, (_v, i) => result(i + 1))];
    res.end(
      `<!DOCTYPE html><html><head><title>${escapeHtml(q)} at DuckDuckGo</title></head><body><div id="links" class="results">${items.join('')}</div></body></html>`,
    );
  }
}

export class FakeSerper extends FakeService {
  constructor(readonly apiKey = 'serper-test-key') {
    super();
  }

  protected handle(req: ReceivedRequest, res: ServerResponse): void {
    if (req.method !== 'POST' || req.path !== '/search') return this.notFound(res);
    if (req.headers['x-api-key'] !== this.apiKey)
      return this.json(res, 403, { message: 'Unauthorized.', statusCode: 403 });
    let q = '';
    try {
      const parsed = (JSON.parse(req.body) as { q?: unknown }).q;
      q = typeof parsed === 'string' ? parsed : '';
    } catch {
      return this.json(res, 400, { message: 'Invalid JSON', statusCode: 400 });
    }
    const base = { searchParameters: { q, gl: 'us', hl: 'en', type: 'search', engine: 'google' } };
    if (q.startsWith('answer:'))
      return this.json(res, 200, {
        ...base,
        answerBox: { title: q, answer: '42' },
        organic: [{ title: 'Ignored', link: 'https://a.test', snippet: 'ignored', position: 1 }],
      });
    if (q.startsWith('nothing:')) return this.json(res, 200, { ...base, organic: [] });
    this.json(res, 200, {
      ...base,
      knowledgeGraph: {
        title: 'Alan Turing',
        type: 'Mathematician',
        description: 'English mathematician and computer scientist.',
        attributes: { Born: 'June 23, 1912', Died: 'June 7, 1954' },
      },
      organic: [
        {
          title: 'Turing - Wiki',
          link: 'https://w.test/turing',
          snippet: 'Turing was a pioneer.',
          position: 1,
        },
        {
          title: 'Turing machine',
          link: 'https://w.test/machine',
          snippet: 'A model of computation.',
          attributes: { Year: '1936' },
          position: 2,
        },
      ],
    });
  }
}

export class FakeDalle extends FakeService {
  private count = 0;

  constructor(readonly apiKey = 'dalle-test-key') {
    super();
  }

  protected handle(req: ReceivedRequest, res: ServerResponse): void {
    if (req.method !== 'POST' || req.path !== '/v1/images/generations') return this.notFound(res);
    if (req.headers.authorization !== `Bearer ${this.apiKey}`)
      return this.json(res, 401, {
        error: {
          message: 'Incorrect API key provided.',
          type: 'invalid_request_error',
          code: 'invalid_api_key',
        },
      });
    const body = JSON.parse(req.body) as { prompt?: string; size?: string; style?: string };
    this.count += 1;
    this.json(res, 200, {
      created: Math.floor(Date.now() / 1000),
      data: [
        {
          url: `https://images.fake.test/img-${this.count}.png?size=${body.size}&style=${body.style}`,
          revised_prompt: `A picture of ${body.prompt}`,
        },
      ],
    });
  }
}

const GAODE_CITIES: Record<string, { adcode: string; name: string; province: string }> = {
  广州: { adcode: '440100', name: '广州市', province: '广东' },
  北京: { adcode: '110000', name: '北京市', province: '北京' },
};

export class FakeGaode extends FakeService {
  constructor(readonly apiKey = 'gaode-test-key') {
    super();
  }

  protected handle(req: ReceivedRequest, res: ServerResponse): void {
    if (req.method !== 'GET') return this.notFound(res);
    if (req.query.key !== this.apiKey)
      return this.json(res, 200, { status: '0', info: 'INVALID_USER_KEY', infocode: '10001' });
    const ok = { status: '1', info: 'OK', infocode: '10000' };
    switch (req.path) {
      case '/v3/config/district': {
        const city = GAODE_CITIES[(req.query.keywords ?? '').replace(/市$/, '')];
        return this.json(res, 200, {
          ...ok,
          count: city ? '1' : '0',
          suggestion: { keywords: [], cities: [] },
          districts: city
            ? [
                {
                  citycode: '020',
                  adcode: city.adcode,
                  name: city.name,
                  center: '113.26,23.13',
                  level: 'city',
                  districts: [],
                },
              ]
            : [],
        });
      }
      case '/v3/weather/weatherInfo': {
        const city = Object.values(GAODE_CITIES).find((c) => c.adcode === req.query.city);
        if (!city)
          return this.json(res, 200, { status: '0', info: 'INVALID_PARAMS', infocode: '20000' });
        return this.json(res, 200, {
          ...ok,
          count: '1',
          forecasts: [
            {
              city: city.name,
              adcode: city.adcode,
              province: city.province,
              reporttime: '2026-11-30 11:00:00',
              casts: [
                {
                  date: '2026-11-30',
                  week: '1',
                  dayweather: '晴',
                  nightweather: '多云',
                  daytemp: '25',
                  nighttemp: '16',
                  daywind: '北',
                  nightwind: '北',
                  daypower: '1-3',
                  nightpower: '1-3',
                },
                {
                  date: '2026-12-01',
                  week: '2',
                  dayweather: '小雨',
                  nightweather: '阴',
                  daytemp: '21',
                  nighttemp: '15',
                  daywind: '东',
                  nightwind: '东',
                  daypower: '1-3',
                  nightpower: '1-3',
                },
              ],
            },
          ],
        });
      }
      case '/v3/ip':
        if (req.query.ip === '114.247.50.2')
          return this.json(res, 200, {
            ...ok,
            province: '北京市',
            city: '北京市',
            adcode: '110000',
            rectangle: '116.0119343,39.66127144;116.7829835,40.2164962',
          });
        // Addresses it cannot place come back with empty arrays.
        return this.json(res, 200, { ...ok, province: [], city: [], adcode: [], rectangle: [] });
      default:
        return this.notFound(res);
    }
  }
}

const WIKI_PAGES: Record<string, Record<string, string>> = {
  en: {
    'Alan Turing': 'Alan Mathison Turing was an English mathematician and computer scientist.',
    'Turing machine': 'A Turing machine is a mathematical model of computation.',
    'Turing Award': 'The ACM A. M. Turing Award is an annual prize.',
    'Turing test':
      'The Turing test is a test of a machine’s ability to exhibit intelligent behaviour.',
  },
  de: { 'Alan Turing': 'Alan Mathison Turing war ein britischer Logiker und Mathematiker.' },
};

export class FakeWikipedia extends FakeService {
  protected handle(req: ReceivedRequest, res: ServerResponse): void {
    const m = /^\/([a-z-]+)\/w\/api\.php$/.exec(req.path);
    const pages = m ? WIKI_PAGES[m[1]] : undefined;
    if (req.method !== 'GET' || !pages || req.query.format !== 'json') return this.notFound(res);
    const q = req.query;
    if (q.action === 'query' && q.list === 'search') {
      const words = (q.srsearch ?? '').toLowerCase().split(/\s+/).filter(Boolean);
      // "Turing's machine" is searched under a title that redirects to "Turing machine".
      const titles = Object.keys(pages)
        .filter((t) => words.some((w) => t.toLowerCase().includes(w)))
        .map((t) => (t === 'Turing machine' ? 'Turing Machine (computing)' : t))
        .slice(0, Number(q.srlimit ?? 10));
      return this.json(res, 200, {
        batchcomplete: true,
        query: {
          searchinfo: { totalhits: titles.length },
          search: titles.map((title, i) => ({ ns: 0, title, pageid: 100 + i })),
        },
      });
    }
    if (q.action === 'query' && q.prop === 'extracts') {
      const asked = (q.titles ?? '').split('|').filter(Boolean);
      const redirects = asked
        .filter((t) => t === 'Turing Machine (computing)')
        .map((from) => ({ from, to: 'Turing machine' }));
      const resolved = asked.map((t) => redirects.find((r) => r.from === t)?.to ?? t);
      // MediaWiki orders pages by its own rules, not by the titles asked for.
      const out = resolved
        .map((title, i) =>
          pages[title]
            ? { pageid: 100 + i, ns: 0, title, extract: pages[title] }
            : { ns: 0, title, missing: true },
        )
        .reverse();
      return this.json(res, 200, { batchcomplete: true, query: { redirects, pages: out } });
    }
    this.json(res, 200, { error: { code: 'badvalue', info: 'Unrecognized value' } });
  }
}
