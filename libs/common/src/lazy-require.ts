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

/**
 * `compute` run once, on the first call, its promise shared by every caller; a rejection is not
 * kept, so the next call computes again (a lookup that failed on a lost connection is retried).
 */
export function onceUntilFailure<T>(compute: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    if (!pending) {
      const p = compute();
      pending = p;
      p.catch(() => {
        if (pending === p) pending = undefined;
      });
    }
    return pending;
  };
}
