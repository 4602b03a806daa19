import { ToolCallError } from 'src/modules/tool/runtime/tool.types';
import { buildApiRequest, type ApiToolCallSpec } from './api-tool-request';
import type { ApiToolParameter } from './openapi/api-tool.types';

const param = (
  name: string,
  where: ApiToolParameter['in'],
  extra: Partial<ApiToolParameter> = {},
): ApiToolParameter => ({
  name,
  arg: name,
  in: where,
  required: false,
  description: '',
  schema: {},
  ...extra,
});

const spec = (over: Partial<ApiToolCallSpec> = {}): ApiToolCallSpec => ({
  method: 'POST',
  server_url: 'https://api.example.com/v1',
  path: '/users/{user id}/posts/{slug}',
  parameters: [
    param('user id', 'path', { required: true }),
    param('slug', 'path', { required: true }),
    param('q', 'query'),
    param('X-Tag', 'header'),
    param('sid', 'cookie'),
    param('title', 'body', { required: true }),
    param('meta', 'body'),
  ],
  body_type: 'properties',
  body_content_type: 'application/json',
  ...over,
});

describe('buildApiRequest', () => {
  it.each([
    ['..', '.'],
    ['.', 'x'],
    ['..', 'x'],
  ])('refuses path values that would climb out of the path (%s, %s)', (userId, slug) => {
    expect(() => buildApiRequest(spec(), { 'user id': userId, slug, title: 'Hi' }, [])).toThrow(
      new ToolCallError('a path parameter must not be "." or ".."'),
    );
  });

  it('takes dots inside a path value', () => {
    const req = buildApiRequest(spec(), { 'user id': '...', slug: 'v1.2', title: 'Hi' }, []);
    expect(req.url).toBe('https://api.example.com/v1/users/.../posts/v1.2');
  });

  it('encodes path parameters, repeats query arrays, sets headers, cookies and the JSON body', () => {
    const req = buildApiRequest(
      spec(),
      {
        'user id': 'a/b c',
        slug: ['x', 'y'],
        q: [1, 'two'],
        'X-Tag': true,
        sid: 'v;1',
        title: 'Hi',
        meta: { k: 1 },
      },
      [{ key: 'Authorization', value: 'Bearer t' }],
    );
    expect(req.url).toBe('https://api.example.com/v1/users/a%2Fb%20c/posts/x%2Cy?q=1&q=two');
    expect(req.method).toBe('POST');
    expect(req.headers).toEqual({
      'x-tag': 'true',
      cookie: 'sid=v%3B1',
      'content-type': 'application/json',
      authorization: 'Bearer t',
    });
    expect(JSON.parse(req.body!)).toEqual({ title: 'Hi', meta: { k: 1 } });
  });

  it('refuses a call without a path parameter', () => {
    expect(() => buildApiRequest(spec(), { slug: 's', title: 't' }, [])).toThrow(ToolCallError);
  });

  it('lets the provider headers win over header arguments, and joins cookies', () => {
    const req = buildApiRequest(
      spec({ path: '/x', parameters: [param('Authorization', 'header'), param('sid', 'cookie')] }),
      { Authorization: 'Bearer model-made-this-up', sid: '1' },
      [
        { key: 'authorization', value: 'Bearer real' },
        { key: 'Cookie', value: 'session=abc' },
      ],
    );
    expect(req.headers.authorization).toBe('Bearer real');
    expect(req.headers.cookie).toBe('session=abc; sid=1');
  });

  it('sends a whole-value body, a form body, a text body, or none', () => {
    const whole = buildApiRequest(
      spec({ path: '/x', parameters: [param('body', 'body')], body_type: 'value' }),
      { body: [1, 2] },
      [],
    );
    expect(whole.body).toBe('[1,2]');
    const form = buildApiRequest(
      spec({
        path: '/x',
        parameters: [param('a', 'body'), param('b', 'body')],
        body_content_type: 'application/x-www-form-urlencoded',
      }),
      { a: 'x y', b: [1, 2] },
      [],
    );
    expect(form.body).toBe('a=x+y&b=1&b=2');
    expect(form.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const text = buildApiRequest(
      spec({
        path: '/x',
        parameters: [param('body', 'body')],
        body_type: 'value',
        body_content_type: 'text/plain',
      }),
      { body: 'hello' },
      [],
    );
    expect(text.body).toBe('hello');
    const none = buildApiRequest(
      spec({ path: '/x', parameters: [param('a', 'body')], method: 'GET' }),
      {},
      [],
    );
    expect(none.body).toBeUndefined();
    expect(none.headers['content-type']).toBeUndefined();
  });
});
