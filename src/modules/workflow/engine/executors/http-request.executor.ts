import type { OutboundHttpClient } from '@app/http';
import type { HttpRequestNode } from 'src/modules/workflow/graph/graph.types';
import { toText as asText } from '../variables';
import type { NodeExecution, NodeExecutionContext, NodeExecutor } from '../engine.types';

/**
 * Calls the node's URL through the SSRF-guarded client: `params` inputs go to the query string,
 * `headers` inputs to headers, `body` inputs into a JSON object body (not sent with GET or HEAD).
 * Any HTTP answer succeeds, a 4xx/5xx too (its status is an output); network errors, the SSRF
 * guard and timeouts fail the node. Outputs: `status_code`, `text` (the body), `headers`.
 */
export class HttpRequestExecutor implements NodeExecutor<HttpRequestNode> {
  constructor(private readonly http: OutboundHttpClient) {}

  async run(
    node: HttpRequestNode,
    inputs: Record<string, unknown>,
    ctx: NodeExecutionContext,
  ): Promise<NodeExecution> {
    const url = new URL(node.url);
    const headers: Record<string, string> = {};
    const body: Record<string, unknown> = {};
    let hasBody = false;
    for (const v of node.inputs ?? []) {
      const value = inputs[v.name];
      if (v.meta?.type === 'params') url.searchParams.set(v.name, asText(value));
      else if (v.meta?.type === 'headers') headers[v.name] = asText(value);
      else if (v.meta?.type === 'body') {
        body[v.name] = value;
        hasBody = true;
      }
    }
    const method = (node.method || 'get').toUpperCase();
    const res = await this.http.request(url, {
      method,
      headers,
      json: hasBody && method !== 'GET' && method !== 'HEAD' ? body : undefined,
      responseType: 'text',
      timeoutMs: ctx.timeoutMs,
      signal: ctx.signal,
      // The engine retries per the node's settings; the client must not multiply them.
      retries: 0,
    });
    return { outputs: { status_code: res.status, text: res.body, headers: res.headers } };
  }
}
