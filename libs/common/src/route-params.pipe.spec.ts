import { ApiException } from './api.exception';
import { ResponseCode } from './envelope';
import { isIdParam, missingMessage, RouteParamsPipe } from './route-params.pipe';

const pipe = new RouteParamsPipe();
const param = (data?: string) => ({ type: 'param' as const, data });

function codeOf(fn: () => unknown): ResponseCode | null {
  try {
    fn();
    return null;
  } catch (e) {
    return (e as ApiException).code;
  }
}

describe('RouteParamsPipe', () => {
  const uuid = '3f1c2a4e-8b7d-4c1a-9e2f-0a1b2c3d4e5f';

  it('passes UUID ids and other params through', () => {
    expect(pipe.transform(uuid, param('api_key_id'))).toBe(uuid);
    expect(pipe.transform(uuid.toUpperCase(), param('id'))).toBe(uuid.toUpperCase());
    expect(pipe.transform('gpt-4o-mini', param('model_name'))).toBe('gpt-4o-mini');
    expect(pipe.transform('openai', param('provider_name'))).toBe('openai');
    expect(pipe.transform('anything', { type: 'body', data: 'id' })).toBe('anything');
  });

  it('answers not_found for ids that are not UUIDs, named after the param', () => {
    for (const bad of ['not-a-uuid', '1', `${uuid}x`, "x' OR 1=1 --", ''])
      expect(codeOf(() => pipe.transform(bad, param('app_id')))).toBe(ResponseCode.NOT_FOUND);
    expect(() => pipe.transform('nope', param('api_key_id'))).toThrow('The API key does not exist');
    expect(codeOf(() => pipe.transform({ id: 'x' }, param()))).toBe(ResponseCode.NOT_FOUND);
  });

  it('answers validate_error for NUL in any param', () => {
    expect(codeOf(() => pipe.transform('open\u0000ai', param('provider_name')))).toBe(
      ResponseCode.VALIDATE_ERROR,
    );
    expect(codeOf(() => pipe.transform({ token: 'a\u0000' }, param()))).toBe(
      ResponseCode.VALIDATE_ERROR,
    );
  });

  it('knows which names are ids', () => {
    expect(['id', 'app_id', 'api_key_id'].every(isIdParam)).toBe(true);
    expect(['provider_name', 'token', 'task', 'idea', 'valid'].some(isIdParam)).toBe(false);
    expect(missingMessage('dataset_id')).toBe('The dataset does not exist');
    expect(missingMessage('id')).toBe('The resource does not exist');
  });
});
