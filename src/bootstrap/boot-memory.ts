import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcFunction = (options?: { type?: string; execution?: string; flavor?: string }) => void;

/**
 * Returns the memory of booting to the OS once the app is built. Boot loads ~2,400 modules and
 * runs the migrations: V8 grows its young generation to 128 MB for that burst, and it stays
 * committed (and largely resident) however idle the server is afterwards, as does the boot's
 * garbage in the old generation. One memory-reducing full collection (V8's "last resort" flavour,
 * the one it runs itself under memory pressure) shrinks both: measured 60-90 MB of idle RSS,
 * for a pause of 0.2-0.7 s before the server listens. V8 regrows the young generation under load.
 *
 * `gc` is taken from a fresh context while `--expose-gc` is on, and the flag is turned off again,
 * so no other code sees a `gc` global.
 */
export function releaseBootMemory(): void {
  setFlagsFromString('--expose-gc');
  let gc: GcFunction;
  try {
    gc = runInNewContext('gc') as GcFunction;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
