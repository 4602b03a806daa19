import { ToolCallError } from 'src/modules/tool/runtime/tool.types';
import type { BuiltinToolImpl } from './builtin-tool.impl';

// IANA names (Area/Location, Etc/GMT+5, UTC); offsets such as "+08:00" are left out on purpose.
const ZONE_NAME = /^(?:[A-Za-z][A-Za-z0-9_+-]*)(?:\/[A-Za-z0-9_+-]+){0,2}$/;

/** The canonical IANA name, or null when `zone` is not one this runtime knows. */
export function ianaZone(zone: string): string | null {
  if (!ZONE_NAME.test(zone)) return null;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

/** `2026-11-30 20:00:00 Asia/Shanghai (UTC+08:00)` */
export function formatNow(now: Date, zone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZoneName: 'longOffset',
    })
      .formatToParts(now)
      .map((p) => [p.type, p.value]),
  );
  const offset = String(parts.timeZoneName).replace(/^GMT$/, 'GMT+00:00').replace('GMT', 'UTC');
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${zone} (${offset})`;
}

/** No network: the server clock in the requested zone (argument first, then the setting). */
export const currentTime: BuiltinToolImpl = {
  checkParams(params) {
    const zone = params.timezone;
    if (typeof zone === 'string' && !ianaZone(zone))
      return { 'params.timezone': [`params.timezone "${zone}" is not an IANA time zone`] };
    return null;
  },
  run({ args, params }) {
    const asked =
      typeof args.timezone === 'string' && args.timezone.trim()
        ? args.timezone.trim()
        : typeof params.timezone === 'string'
          ? params.timezone
          : 'UTC';
    const zone = ianaZone(asked);
    if (!zone)
      return Promise.reject(
        new ToolCallError(
          `"${asked.slice(0, 64)}" is not an IANA time zone (e.g. UTC, Europe/Paris, Asia/Shanghai)`,
        ),
      );
    return Promise.resolve(formatNow(new Date(), zone));
  },
};
