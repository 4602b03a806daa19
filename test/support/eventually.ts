/**
 * Polls `read` until `until` holds or `ms` pass, and returns the last value read: the caller's
 * own assertion on it then fails with the value that was seen.
 */
export async function eventually<T>(
  read: () => Promise<T>,
  until: (v: T) => boolean,
  ms = 5000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (until(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
