/**
 * Request headers that carry credentials. Both outbound clients drop them (plus any configured
 * auth header names) when a redirect leaves the origin they were meant for.
 */
export const CREDENTIAL_HEADERS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
];

/** Lower-cased names to drop on a cross-origin hop: the shared list plus `extra`. */
export function credentialHeaderNames(extra: readonly string[] = []): Set<string> {
  return new Set([...CREDENTIAL_HEADERS, ...extra.map((h) => h.trim().toLowerCase())]);
}
