import { AppConfig, parseEnv } from '@app/config';
import { maskSecret, SecretBox, SecretBoxError } from './secret-box';

const box = (key: string, previous = '') =>
  new SecretBox(
    new AppConfig(parseEnv({ ENCRYPTION_KEY: key, ENCRYPTION_KEYS_PREVIOUS: previous })),
  );

describe('SecretBox', () => {
  it('round-trips text and JSON, with a fresh IV each time', () => {
    const b = box('k'.repeat(32));
    const a1 = b.seal('sk-secret');
    const a2 = b.seal('sk-secret');
    expect(a1).not.toEqual(a2);
    expect(a1).not.toContain('sk-secret');
    expect(b.open(a1)).toBe('sk-secret');
    expect(b.openJson(b.sealJson({ api_key: 'x', n: 1 }))).toEqual({ api_key: 'x', n: 1 });
  });

  it('detects tampering', () => {
    const b = box('k'.repeat(32));
    const parts = b.seal('hello').split('.');
    parts[4] = Buffer.from('jello').toString('base64url');
    expect(() => b.open(parts.join('.'))).toThrow(SecretBoxError);
    expect(() => b.open('garbage')).toThrow('Malformed secret');
  });

  it('reads secrets sealed with a previous key after rotation, and flags them stale', () => {
    const old = box('old-key-'.repeat(4));
    const sealed = old.seal('legacy');
    const rotated = box('new-key-'.repeat(4), 'old-key-'.repeat(4));
    expect(rotated.open(sealed)).toBe('legacy');
    expect(rotated.isStale(sealed)).toBe(true);
    expect(rotated.isStale(rotated.seal('x'))).toBe(false);
    expect(() => box('other-key-'.repeat(4)).open(sealed)).toThrow(/unknown key/);
  });

  it('masks secrets', () => {
    expect(maskSecret('sk-1234567890abcdef')).toBe('sk-…cdef');
    expect(maskSecret('short')).toBe('••••');
    expect(maskSecret('')).toBe('');
  });
});
