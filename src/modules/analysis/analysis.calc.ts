import type { AppTrafficStats, MessageStats } from 'src/modules/chat/message-stats';
import type { AppAnalysisDto, IndicatorDto, TrendDto } from './dto/analysis.dto';

/** The page shows the last 7 full days and compares them with the 7 before. */
export const ANALYSIS_DAYS = 7;

export interface AnalysisWindow {
  /** Today's local date (YYYY-MM-DD): the cache key, since the window changes only at midnight. */
  day: string;
  /**
   * The 15 local midnights from 14 days ago to today: days [0, 7) are the previous period,
   * [7, 14) the one shown; today itself is excluded (as the original).
   */
  bounds: Date[];
}

const pad = (n: number) => String(n).padStart(2, '0');

/** The window of `now`, in the server's local time zone (the original used local midnights). */
export function analysisWindow(now: Date): AnalysisWindow {
  const y = now.getFullYear();
  const m = now.getMonth();
  const d = now.getDate();
  // Date's constructor normalizes day underflow and keeps local midnight across DST changes.
  const bounds = Array.from(
    { length: 2 * ANALYSIS_DAYS + 1 },
    (_, i) => new Date(y, m, d - 2 * ANALYSIS_DAYS + i),
  );
  return { day: `${y}-${pad(m + 1)}-${pad(d)}`, bounds };
}

interface Indicators {
  total_messages: number;
  active_accounts: number;
  avg_of_conversation_messages: number;
  token_output_rate: number;
  cost_consumption: number;
}

const INDICATORS = [
  'total_messages',
  'active_accounts',
  'avg_of_conversation_messages',
  'token_output_rate',
  'cost_consumption',
] as const;

/** The original's five indicators of a set of messages; every division guarded. */
export function indicators(s: MessageStats): Indicators {
  return {
    total_messages: s.messages,
    active_accounts: s.accounts,
    avg_of_conversation_messages: s.conversations ? s.messages / s.conversations : 0,
    // All tokens (query and answer) per second of latency, as the original computed it.
    token_output_rate: s.latency ? s.tokens / s.latency : 0,
    cost_consumption: s.cost,
  };
}

/** Period over period: (current − previous) ÷ previous, 0 when the previous period had 0. */
export function pop(current: number, previous: number): number {
  return previous !== 0 ? (current - previous) / previous : 0;
}

/** GET /analysis/:app_id's data (CONSOLE-SHAPES §4.7) from the window's sums. */
export function buildAnalysis(window: AnalysisWindow, stats: AppTrafficStats): AppAnalysisDto {
  const current = indicators(stats.periods[1]);
  const previous = indicators(stats.periods[0]);
  const shown = stats.days.slice(ANALYSIS_DAYS);
  const x = window.bounds
    .slice(ANALYSIS_DAYS, 2 * ANALYSIS_DAYS)
    .map((b) => Math.floor(b.getTime() / 1000));
  const trend = (y: (d: Indicators) => number): TrendDto => ({
    x_axis: [...x],
    y_axis: shown.map((s) => y(indicators(s))),
  });
  const overview = Object.fromEntries(
    INDICATORS.map((k): [string, IndicatorDto] => [
      k,
      { data: current[k], pop: pop(current[k], previous[k]) },
    ]),
  ) as Record<(typeof INDICATORS)[number], IndicatorDto>;
  return {
    ...overview,
    total_messages_trend: trend((d) => d.total_messages),
    active_accounts_trend: trend((d) => d.active_accounts),
    avg_of_conversation_messages_trend: trend((d) => d.avg_of_conversation_messages),
    cost_consumption_trend: trend((d) => d.cost_consumption),
  };
}
