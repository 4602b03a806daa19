import { MAX_COMPILED_SCHEMAS, ToolArgsValidator } from './tool-args.validator';

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
});
