import type { CodeRunner } from '../engine/engine.types';
import type { CodeSandbox } from './code-sandbox';

/** The heap a code node's program may use (the sandbox's documented example; ~10 MB at least). */
export const CODE_NODE_MEMORY_BYTES = 64 * 1024 * 1024;

/**
 * The code node's CodeRunner on the QuickJS sandbox: the node's timeout and signal, a fixed memory
 * cap; the program's console logs are not node outputs and are dropped. Sandbox failures keep
 * their message (`Uncaught: boom`, `code exceeded its time limit of 400 ms`).
 */
export function sandboxCodeRunner(
  sandbox: Pick<CodeSandbox, 'run'>,
  memoryBytes = CODE_NODE_MEMORY_BYTES,
): CodeRunner {
  return {
    run: async (code, params, opts) =>
      (await sandbox.run(code, params, { ...opts, memoryBytes })).result,
  };
}
