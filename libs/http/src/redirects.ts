import { OutboundRequestError } from './outbound-request-error';

/** The statuses that redirect a request (both outbound clients follow them themselves). */
export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** Headers that describe a body, dropped when a redirect turns the request into a GET. */
export const BODY_HEADERS = [
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
];

/** Origin and path only: no credentials or query strings in messages and logs. */
export function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** Where a redirect leads: its Location resolved against the hop's URL; http(s) only. */
export function redirectTarget(from: URL, status: number, location: string): URL {
  let url: URL;
  try {
    url = new URL(location, from);
  } catch (e) {
    throw new OutboundRequestError(
      'invalid_url',
      `Redirect from ${describeUrl(from)} has an invalid Location`,
      { status, url: describeUrl(from), cause: e },
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OutboundRequestError(
      'invalid_url',
      `Redirect from ${describeUrl(from)} to unsupported scheme ${url.protocol}`,
      { status, url: describeUrl(from) },
    );
  }
  url.hash = '';
  return url;
}

/** As fetch and browsers: 303 (and 301/302 after POST) turn the request into a body-less GET. */
export function redirectBecomesGet(status: number, method: string): boolean {
  return (status === 303 && method !== 'HEAD') || (status <= 302 && method === 'POST');
}
