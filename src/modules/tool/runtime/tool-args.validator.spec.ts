import { MAX_COMPILED_SCHEMAS, ToolArgsValidator, withoutPatterns } from './tool-args.validator';

const schema = (n: number) => ({
  type: 'object',
  properties: { [`p${n}`]: { type: 'string' } },
  required: [`p${n}`],
});

describe('ToolArgsValidator', () => {
  it('compiles equal schemas once, whatever object they arrive in', () => {
    const v = new ToolArgsValidator();
    for (let i = 0; i < 50; i++) {
      expect(v.check(schema(1), { p1: 'x' }).ok).toBe(true);
      expect(v.check(schema(1), {}).errors).toEqual({ p1: ['p1 is required'] });
    }
    expect(v.size).toBe(1);
  });

  it('keeps at most MAX_COMPILED_SCHEMAS and frees what it drops from ajv too', () => {
    const v = new ToolArgsValidator();
    for (let i = 0; i < MAX_COMPILED_SCHEMAS + 200; i++) v.check(schema(i), {});
    expect(v.size).toBe(MAX_COMPILED_SCHEMAS);
    // ajv's own cache holds only the live ones (plus its meta-schemas).
    const ajvCache = (v as unknown as { draft7: { _cache: Map<unknown, unknown> } }).draft7._cache;
    expect(ajvCache.size).toBeLessThanOrEqual(MAX_COMPILED_SCHEMAS + 10);
    // The oldest was dropped and compiles again on demand, still correct.
    expect(v.check(schema(0), { p0: 1 }).errors).toEqual({ p0: ['p0 must be string'] });
  });

  it('checks patterns in linear time: a catastrophic pattern answers at once', () => {
    const v = new ToolArgsValidator();
    const evil = {
      type: 'object',
      properties: { q: { type: 'string', pattern: '^(a+)+$' } },
      patternProperties: { '^(x+x+)+y$': { type: 'number' } },
    };
    const started = performance.now();
    const check = v.check(evil, { q: `${'a'.repeat(5000)}!`, [`${'x'.repeat(5000)}`]: 'n' });
    // A backtracking engine takes hours here (1.5 s at 27 characters).
    expect(performance.now() - started).toBeLessThan(2000);
    expect(check.errors).toEqual({ q: ['q must match pattern "^(a+)+$"'] });
    expect(v.check(evil, { q: 'aaaa' }).ok).toBe(true);
  });

  it('keeps usual patterns (unicode classes, bounds) and ignores what RE2 cannot read', () => {
    const v = new ToolArgsValidator();
    const s = (pattern: string) => ({
      type: 'object',
      properties: { v: { type: 'string', pattern } },
    });
    expect(v.check(s('^\\p{L}+$'), { v: 'héllo' }).ok).toBe(true);
    expect(v.check(s('^[a-z]{2,3}$'), { v: 'abcd' }).ok).toBe(false);
    // A lookahead: no constraint rather than a tool that cannot be called.
    expect(v.check(s('^(?=.*\\d).+$'), { v: 'no digits' }).ok).toBe(true);
    expect(v.schemaProblem(s('^(?=.*\\d).+$'))).toBeNull();
  });

  it('withoutPatterns drops pattern keywords everywhere and keeps properties named so', () => {
    const schema = {
      type: 'object',
      properties: {
        pattern: { type: 'string', pattern: '^(a+)+$', description: 'a glob' },
        list: { type: 'array', items: { type: 'string', pattern: 'x+' } },
        either: { anyOf: [{ type: 'string', pattern: 'y' }, { type: 'number' }] },
      },
      patternProperties: { '^(x+x+)+y$': { type: 'number' } },
      $defs: { code: { type: 'string', pattern: 'z', enum: ['pattern'] } },
      required: ['pattern'],
    };
    expect(withoutPatterns(schema)).toEqual({
      type: 'object',
      properties: {
        pattern: { type: 'string', description: 'a glob' },
        list: { type: 'array', items: { type: 'string' } },
        either: { anyOf: [{ type: 'string' }, { type: 'number' }] },
      },
      $defs: { code: { type: 'string', enum: ['pattern'] } },
      required: ['pattern'],
    });
    // The input is left as it was (tools keep their full schema for the real check).
    expect(schema.properties.pattern.pattern).toBe('^(a+)+$');
  });
});
