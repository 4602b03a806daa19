import { checkShape, ShapeLimits } from './request-shape';

const limits: ShapeLimits = { maxDepth: 4, maxKeysPerObject: 3, maxItems: 10, maxStringLength: 5 };

describe('checkShape', () => {
  it('accepts values within every limit', () => {
    expect(checkShape({ a: [1, 'xx', { b: null }], c: true }, limits, 'body')).toBeNull();
    expect(checkShape('short', limits, 'query')).toBeNull();
    expect(checkShape(undefined, limits, 'body')).toBeNull();
  });

  it('limits nesting depth without recursing (10,000 levels)', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = { a: deep };
    expect(checkShape(deep, limits, 'body')).toEqual({
      field: 'body',
      message: 'body is nested deeper than 4 levels',
    });
    expect(checkShape({ a: { b: { c: {} } } }, limits, 'body')).toBeNull();
    expect(checkShape({ a: { b: { c: { d: {} } } } }, limits, 'body')?.message).toMatch(/deeper/);
    expect(checkShape([[[[[]]]]], limits, 'body')?.message).toMatch(/deeper/);
  });

  it('limits keys per object and names the object', () => {
    expect(checkShape({ a: 1, b: 2, c: 3, d: 4 }, limits, 'body')?.message).toBe(
      'body has more than 3 keys',
    );
    expect(checkShape({ x: [{ a: 1, b: 2, c: 3, d: 4 }] }, limits, 'body')).toEqual({
      field: 'x[0]',
      message: 'x[0] has more than 3 keys',
    });
  });

  it('limits keys plus array items in all', () => {
    expect(checkShape({ a: new Array(10).fill(0) }, limits, 'body')?.message).toBe(
      'body has more than 10 keys and array items in all',
    );
    expect(checkShape({ a: new Array(9).fill(0) }, limits, 'body')).toBeNull();
    expect(checkShape(new Array(1_000_000).fill(0), limits, 'body')?.message).toMatch(/in all/);
  });

  it('limits string length, keys included', () => {
    expect(checkShape({ a: { b: ['ok', 'toolong'] } }, limits, 'body')).toEqual({
      field: 'a.b[1]',
      message: 'a.b[1] is longer than 5 characters',
    });
    expect(checkShape({ longkey: 1 }, limits, 'body')?.message).toBe(
      'longkey is longer than 5 characters',
    );
  });

  it('refuses NUL characters in values and keys', () => {
    expect(checkShape({ name: 'a\u0000b' }, limits, 'body')).toEqual({
      field: 'name',
      message: 'name must not contain NUL characters',
    });
    expect(checkShape({ q: ['x', '\u0000'] }, limits, 'query')?.field).toBe('q[1]');
    expect(checkShape({ 'k\u0000': 1 }, limits, 'body')?.message).toMatch(/NUL/);
    expect(checkShape('\u0000', limits, 'query')?.message).toBe(
      'query must not contain NUL characters',
    );
  });
});
