import { readdirSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Runs every `bench/*.bench.ts` (or those named on the command line). Each benchmark measures
 * its baseline in the same run and prints a ratio, so numbers compare across machines.
 */
async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const files = readdirSync(__dirname)
    .filter((f) => f.endsWith('.bench.ts'))
    .filter((f) => !only.length || only.some((o) => f.includes(o)))
    .sort();
  for (const file of files) {
    // require, not import(): benchmarks are TypeScript loaded through ts-node's require hook.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(__dirname, file)) as { run: () => Promise<void> };
    console.log(`\n# ${file}`);
    await mod.run();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
