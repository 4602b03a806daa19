import { ValidateError } from '@app/common';

export interface HeaderPair {
  key: string;
  value: string;
}

/** Set by the transport (or by the request body we build); a provider cannot override them. */
const RESERVED = new Set([
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'proxy-connection',
  'expect',
]);

const MASK = '…';

/**
 * `Bear…`: enough to recognise a value, not to use it. Short values show nothing, so a four
 * character secret is not given away whole.
 */
export function maskHeaderValue(value: string): string {
  return value.length >= 12 ? `${value.slice(0, 4)}${MASK}` : MASK;
}

/**
 * The headers to store from what the console posted: blank rows dropped, names unique and not
 * reserved; a value equal to the mask of the stored value under the same name keeps the stored
 * secret (the console posts back the form it read).
 */
export function mergeHeaders(incoming: HeaderPair[], stored: HeaderPair[]): HeaderPair[] {
  const previous = new Map(stored.map((h) => [h.key.toLowerCase(), h.value]));
  const seen = new Set<string>();
  const out: HeaderPair[] = [];
  incoming.forEach((h, i) => {
    const key = h.key.trim();
    if (!key && !h.value) return;
    const lower = key.toLowerCase();
    if (!key) throw new ValidateError({ [`headers.${i}.key`]: ['headers[].key is required'] });
    if (RESERVED.has(lower))
      throw new ValidateError({
        [`headers.${i}.key`]: [`headers[].key "${key}" is set by the server and cannot be sent`],
      });
    if (seen.has(lower))
      throw new ValidateError({ [`headers.${i}.key`]: [`headers[].key "${key}" appears twice`] });
    seen.add(lower);
    const old = previous.get(lower);
    const value = old !== undefined && h.value === maskHeaderValue(old) ? old : h.value;
    out.push({ key, value });
  });
  return out;
}

export function maskHeaders(headers: HeaderPair[]): HeaderPair[] {
  return headers.map((h) => ({ key: h.key, value: maskHeaderValue(h.value) }));
}
