import { ValidateError } from '@app/common';
import { maskHeaders, maskHeaderValue, mergeHeaders } from './api-tool-headers';

describe('API tool headers', () => {
  it('masks long values to their first four characters and short ones entirely', () => {
    expect(maskHeaderValue('Bearer sk-0123456789')).toBe('Bear…');
    expect(maskHeaderValue('short-value')).toBe('…');
    expect(maskHeaders([{ key: 'A', value: '' }])).toEqual([{ key: 'A', value: '…' }]);
  });

  it('keeps a stored secret when its mask comes back, under any case of its name', () => {
    const stored = [
      { key: 'Authorization', value: 'Bearer sk-0123456789' },
      { key: 'X-Key', value: 'k' },
    ];
    expect(
      mergeHeaders(
        [
          { key: 'authorization', value: 'Bear…' },
          { key: 'X-Key', value: 'new' },
          { key: 'X-New', value: '…' },
          { key: '', value: '' },
        ],
        stored,
      ),
    ).toEqual([
      { key: 'authorization', value: 'Bearer sk-0123456789' },
      { key: 'X-Key', value: 'new' },
      { key: 'X-New', value: '…' },
    ]);
    // Left out means removed.
    expect(mergeHeaders([], stored)).toEqual([]);
  });

  it('refuses reserved, duplicate and nameless headers', () => {
    expect(() => mergeHeaders([{ key: 'Content-Length', value: '1' }], [])).toThrow(ValidateError);
    expect(() =>
      mergeHeaders(
        [
          { key: 'A', value: '1' },
          { key: 'a', value: '2' },
        ],
        [],
      ),
    ).toThrow(/appears twice/);
    expect(() => mergeHeaders([{ key: '', value: 'x' }], [])).toThrow(/key is required/);
  });
});
