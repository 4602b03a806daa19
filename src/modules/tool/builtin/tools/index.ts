import type { BuiltinToolImpl } from './builtin-tool.impl';
import { currentTime } from './current-time';
import { dalle3 } from './dalle3';
import { duckduckgoSearch } from './duckduckgo-search';
import { gaodeIp, gaodeWeather } from './gaode';
import { googleSerper } from './google-serper';
import { wikipediaSearch } from './wikipedia-search';

export type { BuiltinCallContext, BuiltinToolImpl } from './builtin-tool.impl';

/** The code of each tool declared in providers/<provider>/provider.json, keyed `provider/tool`. */
export const BUILTIN_TOOL_IMPLS: Readonly<Record<string, BuiltinToolImpl>> = {
  'time/current_time': currentTime,
  'duckduckgo/duckduckgo_search': duckduckgoSearch,
  'google/google_serper': googleSerper,
  'dalle/dalle3': dalle3,
  'gaode/gaode_weather': gaodeWeather,
  'gaode/gaode_ip': gaodeIp,
  'wikipedia/wikipedia_search': wikipediaSearch,
};
