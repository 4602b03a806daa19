import { globToRegExp, matchesAny } from './glob';

describe('globToRegExp', () => {
  it('keeps * within a folder and lets ** cross folders', () => {
    expect(globToRegExp('*.gguf').test('a.gguf')).toBe(true);
    expect(globToRegExp('*.gguf').test('fp16/a.gguf')).toBe(false);
    expect(globToRegExp('**/*.gguf').test('fp16/a.gguf')).toBe(true);
    expect(globToRegExp('**/*.gguf').test('a.gguf')).toBe(true);
    expect(globToRegExp('onnx/**').test('onnx/x/y.bin')).toBe(true);
    expect(globToRegExp('model-?.bin').test('model-1.bin')).toBe(true);
    expect(globToRegExp('model-?.bin').test('model-10.bin')).toBe(false);
  });

  it('treats regex characters literally', () => {
    expect(globToRegExp('a+b(1).txt').test('a+b(1).txt')).toBe(true);
    expect(globToRegExp('a.txt').test('abtxt')).toBe(false);
  });

  it('matches everything without globs', () => {
    expect(matchesAny('x/y', [])).toBe(true);
    expect(matchesAny('x/y', [globToRegExp('z')])).toBe(false);
  });

  it('matches in linear time: alternating wildcards do not explode', () => {
    const glob = globToRegExp(`${'*?'.repeat(40)}/`);
    const started = performance.now();
    expect(glob.test('a'.repeat(5000))).toBe(false);
    // A backtracking engine took 2.7 s for 10 pairs on 32 characters.
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
