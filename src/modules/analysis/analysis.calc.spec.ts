import { execFileSync } from 'node:child_process';
import { emptyStats, type MessageStats } from 'src/modules/chat/message-stats';
import { analysisWindow, buildAnalysis, indicators, pop } from './analysis.calc';

const stats = (s: Partial<MessageStats>): MessageStats => ({ ...emptyStats(), ...s });

describe('analysis window', () => {
  it('is the 15 local midnights ending at today, today being the cache key', () => {
    const w = analysisWindow(new Date(2025, 2, 5, 15, 30)); // 5 March, afternoon
    expect(w.day).toBe('2025-03-05');
    expect(w.bounds).toHaveLength(15);
    expect(w.bounds[14]).toEqual(new Date(2025, 2, 5));
    expect(w.bounds[7]).toEqual(new Date(2025, 1, 26)); // crosses into February
    expect(w.bounds[0]).toEqual(new Date(2025, 1, 19));
    for (const b of w.bounds)
      expect([b.getHours(), b.getMinutes(), b.getSeconds(), b.getMilliseconds()]).toEqual([
        0, 0, 0, 0,
      ]);
  });

  it('keeps local midnights across a daylight-saving change (a 23-hour day)', () => {
    // Jest gives tests a copy of process.env, so the time zone is set on a child process.
    const script = `
      const { analysisWindow } = require('./src/modules/analysis/analysis.calc');
      const w = analysisWindow(new Date(2024, 3, 3, 9)); // 3 April; DST began 31 March
      console.log(JSON.stringify({
        hours: w.bounds.slice(1).map((b, i) => (b.getTime() - w.bounds[i].getTime()) / 36e5),
        midnights: w.bounds.every((b) => b.getHours() === 0 && b.getMinutes() === 0),
      }));`;
    const out = execFileSync(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', '-e', script],
      { env: { ...process.env, TZ: 'Europe/Berlin', NODE_OPTIONS: '' }, encoding: 'utf8' },
    );
    const { hours, midnights } = JSON.parse(out) as { hours: number[]; midnights: boolean };
    expect(hours.filter((h) => h === 23)).toHaveLength(1);
    expect(hours.filter((h) => h !== 23).every((h) => h === 24)).toBe(true);
    expect(midnights).toBe(true);
  });
});

describe('indicators and pop', () => {
  it('divides only by non-zero conversations and latency', () => {
    expect(indicators(emptyStats())).toEqual({
      total_messages: 0,
      active_accounts: 0,
      avg_of_conversation_messages: 0,
      token_output_rate: 0,
      cost_consumption: 0,
    });
    expect(
      indicators(
        stats({ messages: 6, accounts: 3, conversations: 4, tokens: 90, latency: 0, cost: 0.5 }),
      ),
    ).toEqual({
      total_messages: 6,
      active_accounts: 3,
      avg_of_conversation_messages: 1.5,
      token_output_rate: 0,
      cost_consumption: 0.5,
    });
    expect(indicators(stats({ tokens: 90, latency: 4 })).token_output_rate).toBe(22.5);
  });

  it('is the change relative to the previous period, 0 when that was 0', () => {
    expect(pop(6, 2)).toBe(2);
    expect(pop(1, 4)).toBe(-0.75);
    expect(pop(5, 0)).toBe(0);
    expect(pop(0, 0)).toBe(0);
  });
});

describe('buildAnalysis', () => {
  it('answers every key of the console with trends over the last 7 days', () => {
    const w = analysisWindow(new Date(2025, 5, 20, 8));
    const days = Array.from({ length: 14 }, () => emptyStats());
    days[8] = stats({
      messages: 3,
      accounts: 2,
      conversations: 2,
      tokens: 30,
      latency: 3,
      cost: 1,
    });
    days[13] = stats({ messages: 1, accounts: 1, conversations: 1, cost: 0.25 });
    const data = buildAnalysis(w, {
      days,
      periods: [
        stats({ messages: 2, accounts: 2, conversations: 1, tokens: 10, latency: 2, cost: 0.5 }),
        stats({ messages: 4, accounts: 3, conversations: 3, tokens: 30, latency: 3, cost: 1.25 }),
      ],
    });
    const x = w.bounds.slice(7, 14).map((b) => b.getTime() / 1000);
    expect(data).toEqual({
      total_messages: { data: 4, pop: 1 },
      active_accounts: { data: 3, pop: 0.5 },
      avg_of_conversation_messages: { data: 4 / 3, pop: (4 / 3 - 2) / 2 },
      token_output_rate: { data: 10, pop: 1 },
      cost_consumption: { data: 1.25, pop: 1.5 },
      total_messages_trend: { x_axis: x, y_axis: [0, 3, 0, 0, 0, 0, 1] },
      active_accounts_trend: { x_axis: x, y_axis: [0, 2, 0, 0, 0, 0, 1] },
      avg_of_conversation_messages_trend: { x_axis: x, y_axis: [0, 1.5, 0, 0, 0, 0, 1] },
      cost_consumption_trend: { x_axis: x, y_axis: [0, 1, 0, 0, 0, 0, 0.25] },
    });
    expect(x.every(Number.isInteger)).toBe(true);
  });
});
