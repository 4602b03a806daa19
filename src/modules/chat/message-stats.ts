import type { EntityManager } from 'typeorm';

/**
 * Aggregates of an app's traffic for the analysis page, in SQL. "Traffic" is what the original
 * counted (CONSOLE-SHAPES §4.7): messages of the app that have an answer, from every channel the
 * owner's debug chat included, whatever their status, deleted or not (a delete hides a message
 * from lists, not from the statistics).
 */

/** Sums over a set of messages; the analysis derives its indicators from them. */
export interface MessageStats {
  messages: number;
  /** Distinct `created_by`: accounts and end users who sent them. */
  accounts: number;
  conversations: number;
  /** Σ total_token_count. */
  tokens: number;
  /** Σ latency, seconds. */
  latency: number;
  /** Σ total_price. */
  cost: number;
}

export interface AppTrafficStats {
  /** One entry per day: `days[i]` covers [bounds[i], bounds[i+1]). */
  days: MessageStats[];
  /** Two periods split at bounds[split]: before it and from it on (distinct counts per period). */
  periods: [MessageStats, MessageStats];
}

const TRAFFIC = `answer <> ''`;

export const emptyStats = (): MessageStats => ({
  messages: 0,
  accounts: 0,
  conversations: 0,
  tokens: 0,
  latency: 0,
  cost: 0,
});

interface Row {
  day: number | null;
  later: boolean | null;
  messages: number;
  accounts: number;
  conversations: number;
  tokens: number;
  latency: number;
  cost: number;
}

/**
 * One query: per day and per period, with distinct accounts and conversations counted within
 * each group (GROUPING SETS), so a week's active accounts are not a sum of daily ones. `bounds`
 * are ascending day starts (n + 1 of them for n days; local midnights, so a DST day is 23 or 25
 * hours); `split` is the index of the bound where the second period starts.
 */
export async function appTrafficStats(
  m: EntityManager,
  appId: string,
  bounds: Date[],
  split: number,
): Promise<AppTrafficStats> {
  if (bounds.length < 2 || split < 0 || split >= bounds.length)
    throw new Error('appTrafficStats: at least two bounds and a split inside them');
  const last = bounds.length + 1;
  const splitParam = split + 2;
  // One placeholder per bound (no array parameter: the embedded driver binds arrays differently).
  const thresholds = bounds.map((_, i) => `$${i + 2}::timestamptz`).join(', ');
  const rows = await m.query<Row[]>(
    `SELECT t.day, t.later,
            COUNT(*)::int AS messages,
            COUNT(DISTINCT t.created_by)::int AS accounts,
            COUNT(DISTINCT t.conversation_id)::int AS conversations,
            COALESCE(SUM(t.total_token_count), 0)::float8 AS tokens,
            COALESCE(SUM(t.latency), 0)::float8 AS latency,
            COALESCE(SUM(t.total_price), 0)::float8 AS cost
       FROM (SELECT width_bucket(created_at, ARRAY[${thresholds}]) - 1 AS day,
                    created_at >= $${splitParam}::timestamptz AS later,
                    created_by, conversation_id, total_token_count, latency, total_price
               FROM messages
              WHERE app_id = $1
                AND created_at >= $2::timestamptz AND created_at < $${last}::timestamptz
                AND ${TRAFFIC}) t
      GROUP BY GROUPING SETS ((t.day), (t.later))`,
    [appId, ...bounds],
  );
  const days = bounds.slice(1).map(emptyStats);
  const periods: [MessageStats, MessageStats] = [emptyStats(), emptyStats()];
  for (const r of rows) {
    const stats: MessageStats = {
      messages: Number(r.messages),
      accounts: Number(r.accounts),
      conversations: Number(r.conversations),
      tokens: Number(r.tokens),
      latency: Number(r.latency),
      cost: Number(r.cost),
    };
    if (r.day !== null && r.day !== undefined) days[Number(r.day)] = stats;
    else if (r.later !== null && r.later !== undefined) periods[r.later ? 1 : 0] = stats;
  }
  return { days, periods };
}

/** Apps (ids) with traffic in [from, to): the ones whose analysis is worth computing ahead. */
export async function appsWithTraffic(m: EntityManager, from: Date, to: Date): Promise<string[]> {
  const rows = await m.query<Array<{ app_id: string }>>(
    `SELECT DISTINCT app_id FROM messages
      WHERE app_id IS NOT NULL AND created_at >= $1 AND created_at < $2 AND ${TRAFFIC}`,
    [from, to],
  );
  return rows.map((r) => r.app_id);
}
