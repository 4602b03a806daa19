/**
 * A getter that loads a CommonJS package on first call. Heavy packages used by one feature (the
 * document parsers, LangChain, the MCP SDK, ajv) are loaded when that feature is first used, not
 * at boot: an idle server does not pay their memory (measured in bench/http-overhead).
 * Type it with `typeof import('pkg')`; keep value imports of `pkg` out of the file.
 */
export function lazyRequire<T>(id: string): () => T {
  let mod: T | undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return () => (mod ??= require(id) as T);
}
