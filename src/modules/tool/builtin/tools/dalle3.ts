import { ToolCallError } from 'src/modules/tool/runtime/tool.types';
import type { BuiltinToolImpl } from './builtin-tool.impl';
import { joinUrl, Upstream } from './upstream';

interface ImagesResponse {
  data?: Array<{ url?: unknown; revised_prompt?: unknown }>;
}

/** OpenAI's images API; key and base URL fall back to the OpenAI provider's server defaults. */
export const dalle3: BuiltinToolImpl = {
  async run({ args, params, signal, http, env }) {
    const key = env.DALLE_API_KEY ?? env.OPENAI_API_KEY;
    if (!key)
      throw new ToolCallError(
        'The DALL-E API key is not configured: set DALLE_API_KEY (or OPENAI_API_KEY)',
      );
    const base = env.DALLE_BASE_URL ?? env.OPENAI_API_BASE ?? 'https://api.openai.com/v1';
    const upstream = new Upstream(http, 'DALL-E', signal, key);
    const res = await upstream.json<ImagesResponse>(joinUrl(base, '/images/generations'), {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
      json: {
        model: 'dall-e-3',
        prompt: String(args.query),
        n: 1,
        size: params.size,
        style: params.style,
        response_format: 'url',
      },
      // Each attempt is a paid image: a failed one is reported, not repeated.
      retries: 0,
    });
    const url = res?.data?.[0]?.url;
    if (typeof url !== 'string' || !/^https?:\/\//.test(url))
      throw new ToolCallError('DALL-E answered without an image URL');
    return url;
  },
};
