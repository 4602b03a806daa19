import { detectFormats, detectQuantizations } from './model-hub.service';
import { nextLink, validateRepoId, validateRevision } from './sources/huggingface.client';

describe('model hub helpers', () => {
  it('reads the next URL of a Link header', () => {
    expect(nextLink('<https://hf.co/api/x?cursor=a,b>; rel="next"')).toBe(
      'https://hf.co/api/x?cursor=a,b',
    );
    expect(nextLink('<https://a/1>; rel="prev", <https://a/3>; rel=next')).toBe('https://a/3');
    expect(nextLink('<https://a/1>; rel="prev"')).toBeUndefined();
    expect(nextLink(undefined)).toBeUndefined();
  });

  it('accepts owner/name repo ids only', () => {
    expect(validateRepoId('Qwen/Qwen2.5-0.5B-Instruct')).toBe('Qwen/Qwen2.5-0.5B-Instruct');
    for (const bad of ['a', 'a/b/c', '../a', 'a/..', 'a/.b', 'a/b?c', 'a/b#', 'a/b%2f', '']) {
      expect(() => validateRepoId(bad)).toThrow();
    }
  });

  it('accepts branches, tags, commits and refs/pr/N as revisions', () => {
    for (const ok of ['main', 'v1.0', 'refs/pr/1', 'a'.repeat(40)]) {
      expect(validateRevision(ok)).toBe(ok);
    }
    for (const bad of ['../main', 'refs//pr', 'a/./b', '-x', 'a b']) {
      expect(() => validateRevision(bad)).toThrow();
    }
  });

  it('detects formats and GGUF quantizations from file names', () => {
    const files = [
      'model-00001-of-00002.safetensors',
      'pytorch_model.bin',
      'x/llama-3-8b-Q4_K_M.gguf',
      'llama-3-8b.IQ3_XS.gguf',
      'llama-3-8b-f16-00001-of-00002.gguf',
      'README.md',
    ];
    expect(detectFormats(files)).toEqual(['gguf', 'pytorch', 'safetensors']);
    expect(detectQuantizations(files)).toEqual(['F16', 'IQ3_XS', 'Q4_K_M']);
  });
});
