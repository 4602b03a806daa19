import { lazyRequire } from '@app/common';

const re2js = lazyRequire<typeof import('re2js')>('re2js');

/** A compiled glob: whether a path matches it. */
export interface Glob {
  test(path: string): boolean;
}

/**
 * `*` matches within one folder, `**` across folders, `?` one character; the rest is literal.
 * Compiled for RE2 (re2js, linear time): as a backtracking RegExp, a glob of alternating `*?`
 * took seconds per file name and grew eightfold with each pair.
 */
export function globToRegExp(glob: string): Glob {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      // `**/` also matches no folder at all.
      if (glob[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  const compiled = re2js().RE2JS.compile(`^${re}$`);
  return { test: (path) => compiled.test(path) };
}

export function matchesAny(path: string, globs: Glob[]): boolean {
  return globs.length === 0 || globs.some((g) => g.test(path));
}
