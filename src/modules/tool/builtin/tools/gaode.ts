import { ToolCallError } from 'src/modules/tool/runtime/tool.types';
import type { BuiltinCallContext, BuiltinToolImpl } from './builtin-tool.impl';
import { joinUrl, Upstream } from './upstream';

/** Gaode answers HTTP 200 with `status: "0"` and an `info` code on failures. */
interface GaodeAnswer {
  status?: unknown;
  info?: unknown;
  infocode?: unknown;
}
interface DistrictAnswer extends GaodeAnswer {
  districts?: Array<{ adcode?: unknown; name?: unknown }>;
}
interface IpAnswer extends GaodeAnswer {
  province?: unknown;
  city?: unknown;
  adcode?: unknown;
  rectangle?: unknown;
}

function gaode(ctx: BuiltinCallContext): { upstream: Upstream; key: string; base: string } {
  const key = ctx.env.GAODE_API_KEY;
  if (!key) throw new ToolCallError('The Gaode API key is not configured: set GAODE_API_KEY');
  return {
    upstream: new Upstream(ctx.http, 'Gaode', ctx.signal, key),
    key,
    base: ctx.env.GAODE_BASE_URL,
  };
}

async function call<T extends GaodeAnswer>(
  upstream: Upstream,
  base: string,
  path: string,
  query: Record<string, string>,
): Promise<T> {
  const url = joinUrl(base, path);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const answer = await upstream.json<T>(url);
  if (String(answer?.status) !== '1') {
    const code = typeof answer?.infocode === 'string' ? ` (infocode ${answer.infocode})` : '';
    throw upstream.fail(`${typeof answer?.info === 'string' ? answer.info : 'failed'}${code}`);
  }
  return answer;
}

/** Gaode sends `[]` for a field it has no value for. */
const field = (v: unknown): string => (typeof v === 'string' ? v : '');

/** City name -> adcode (district search), then the forecast for that adcode, as the original. */
export const gaodeWeather: BuiltinToolImpl = {
  async run(ctx) {
    const { upstream, key, base } = gaode(ctx);
    const city = String(ctx.args.city).trim();
    const district = await call<DistrictAnswer>(upstream, base, '/v3/config/district', {
      key,
      keywords: city,
      subdistrict: '0',
    });
    const adcode = field(district.districts?.[0]?.adcode);
    if (!adcode) throw new ToolCallError(`Gaode knows no city named "${city.slice(0, 64)}"`);
    return call(upstream, base, '/v3/weather/weatherInfo', {
      key,
      city: adcode,
      extensions: 'all',
    });
  },
};

/** Where an IPv4 address is (province, city, adcode); Gaode covers addresses in China. */
export const gaodeIp: BuiltinToolImpl = {
  async run(ctx) {
    const { upstream, key, base } = gaode(ctx);
    const ip = String(ctx.args.ip).trim();
    const answer = await call<IpAnswer>(upstream, base, '/v3/ip', { key, ip });
    const located = {
      ip,
      province: field(answer.province),
      city: field(answer.city),
      adcode: field(answer.adcode),
      rectangle: field(answer.rectangle),
    };
    if (!located.province && !located.city)
      throw new ToolCallError(
        `Gaode has no location for ${ip} (it locates public IPv4 addresses in China)`,
      );
    return located;
  },
};
