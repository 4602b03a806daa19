import { QueryFailedError } from 'typeorm';
import { errLogSerializer, isSensitiveName, redactQuery, redactUrl, safeError } from './log-safety';

describe('log safety', () => {
  it('redacts the values of sensitive query names only', () => {
    expect(redactUrl('/a?access_token=x&page=2&api_key=k&code=c&state=s')).toBe(
      '/a?access_token=[REDACTED]&page=2&api_key=[REDACTED]&code=[REDACTED]&state=[REDACTED]',
    );
    expect(redactUrl('/a?Token=x&X-Api-Key=y&refresh_token=z&apiKey=w&signature=q')).toBe(
      '/a?Token=[REDACTED]&X-Api-Key=[REDACTED]&refresh_token=[REDACTED]&apiKey=[REDACTED]&signature=[REDACTED]',
    );
    expect(redactUrl('/a?%74oken=x&flag')).toBe('/a?%74oken=[REDACTED]&flag');
    expect(redactUrl('/a?search_word=hello&page_size=5')).toBe('/a?search_word=hello&page_size=5');
    expect(redactUrl('/plain/path')).toBe('/plain/path');
    expect(redactQuery({ password: 'p', secret: 's', q: 'v' })).toEqual({
      password: '[REDACTED]',
      secret: '[REDACTED]',
      q: 'v',
    });
    expect(['client_secret', 'id_token', 'key', 'sig'].every(isSensitiveName)).toBe(true);
    expect(['keyword', 'monkey_name', 'page', 'search_word'].some(isSensitiveName)).toBe(false);
  });

  it('logs a database error without SQL, parameters, driver detail or the quoted input', () => {
    const driverError = Object.assign(new Error('invalid input syntax for type uuid: "hint-9"'), {
      code: '22P02',
      severity: 'ERROR',
      detail: 'Key (key_hash)=(abc) already exists.',
    });
    const err = new QueryFailedError(
      'SELECT * FROM api_key WHERE id = $1',
      ['hint-9'],
      driverError,
    );
    const safe = safeError(err);
    expect(safe).toMatchObject({
      type: 'QueryFailedError',
      code: '22P02',
      message: 'Database query failed (SQLSTATE 22P02)',
    });
    expect(JSON.stringify(safe)).not.toMatch(/hint-9|SELECT|abc|parameters|driverError/);
    expect(safe.stack).toMatch(
      /^QueryFailedError: Database query failed \(SQLSTATE 22P02\)\n {4}at /,
    );
    expect(JSON.stringify(safeError(driverError))).not.toMatch(/hint-9|abc/);
  });

  it('keeps only type, message, code, stack and cause of other errors', () => {
    const err = Object.assign(new Error('boom', { cause: new TypeError('inner') }), {
      code: 'E_X',
      config: { headers: { authorization: 'Bearer secret' } },
    });
    const safe = safeError(err);
    expect(Object.keys(safe).sort()).toEqual(['cause', 'code', 'message', 'stack', 'type']);
    expect(safe.cause).toMatchObject({ type: 'TypeError', message: 'inner' });
    expect(JSON.stringify(safe)).not.toMatch(/Bearer/);
  });

  it('serializes what pino hands over (its copy with `raw`) and passes safe values through', () => {
    const err = new QueryFailedError('SELECT 1', ['p-1'], new Error('x'));
    const copy = { type: 'QueryFailedError', parameters: ['p-1'], raw: err };
    expect(JSON.stringify(errLogSerializer(copy))).not.toMatch(/p-1/);
    const already = safeError(new Error('ok'));
    expect(errLogSerializer({ ...already, raw: already })).toBe(already);
  });
});
