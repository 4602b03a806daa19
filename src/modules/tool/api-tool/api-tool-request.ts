import { ToolCallError } from 'src/modules/tool/runtime/tool.types';
import type { HeaderPair } from './api-tool-headers';
import type { ApiToolParameter, BodyType } from './openapi/api-tool.types';

export interface ApiToolCallSpec {
  method: string;
  server_url: string;
  path: string;
  parameters: ApiToolParameter[];
  body_type: BodyType;
  body_content_type: string;
}

export interface BuiltRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/** A scalar as it goes into a path, query, header or cookie. */
function scalar(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** Arrays go comma-separated into paths, headers and cookies (OpenAPI's `simple` style). */
function simple(value: unknown): string {
  return Array.isArray(value) ? value.map(scalar).join(',') : scalar(value);
}

/**
 * The HTTP request for a call: the server URL plus the path with its parameters encoded, query
 * parameters (arrays repeated, OpenAPI's default `form` style), header and cookie parameters, the
 * body (JSON, form or text), and the provider's headers last so a model cannot replace them.
 */
export function buildApiRequest(
  spec: ApiToolCallSpec,
  args: Record<string, unknown>,
  providerHeaders: HeaderPair[],
): BuiltRequest {
  const value = (p: ApiToolParameter) => args[p.arg];
  let path = spec.path;
  for (const p of spec.parameters.filter((x) => x.in === 'path')) {
    const v = value(p);
    if (v === undefined || v === null || v === '')
      throw new ToolCallError(`missing path parameter ${p.arg}`);
    path = path.split(`{${p.name}}`).join(encodeURIComponent(simple(v)));
  }
  // "." and ".." survive encoding and the URL parser resolves them: a value must not climb out
  // of the operation's path (`/v1/users/{id}/keys` with id ".." would call `/v1/keys`).
  const dotSegment = (seg: string) => seg === '.' || seg === '..';
  const own = spec.path.split('/');
  if (path.split('/').some((seg, i) => dotSegment(seg) && own[i] !== seg))
    throw new ToolCallError('a path parameter must not be "." or ".."');
  const url = new URL(`${spec.server_url}${path.startsWith('/') ? '' : '/'}${path}`);
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const p of spec.parameters) {
    const v = value(p);
    if (v === undefined || v === null) continue;
    if (p.in === 'query') {
      for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(p.name, scalar(item));
    } else if (p.in === 'header') headers[p.name.toLowerCase()] = simple(v);
    else if (p.in === 'cookie')
      cookies.push(`${encodeURIComponent(p.name)}=${encodeURIComponent(simple(v))}`);
  }
  if (cookies.length) headers.cookie = cookies.join('; ');

  let body: string | undefined;
  const bodyParams = spec.parameters.filter((p) => p.in === 'body');
  let payload: unknown;
  if (spec.body_type === 'value') payload = bodyParams[0] ? value(bodyParams[0]) : undefined;
  else if (spec.body_type === 'properties') {
    const obj: Record<string, unknown> = {};
    for (const p of bodyParams) if (value(p) !== undefined) obj[p.name] = value(p);
    payload = Object.keys(obj).length || bodyParams.some((p) => p.required) ? obj : undefined;
  }
  if (payload !== undefined) {
    const type = spec.body_content_type || 'application/json';
    if (type === 'application/x-www-form-urlencoded' && typeof payload === 'object' && payload) {
      const form = new URLSearchParams();
      for (const [k, v] of Object.entries(payload as Record<string, unknown>))
        for (const item of Array.isArray(v) ? v : [v])
          if (item != null) form.append(k, scalar(item));
      body = form.toString();
    } else if (type === 'text/plain') body = scalar(payload);
    else body = JSON.stringify(payload);
    headers['content-type'] = type;
  }
  for (const h of providerHeaders) {
    const lower = h.key.toLowerCase();
    // A provider cookie (a session) goes with the model's cookie parameters, not instead of them.
    headers[lower] =
      lower === 'cookie' && headers.cookie ? `${h.value}; ${headers.cookie}` : h.value;
  }
  return { url: url.href, method: spec.method, headers, body };
}
