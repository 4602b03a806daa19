import { JobQueue } from '@app/queue';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { analysisWindow } from 'src/modules/analysis/analysis.calc';
import { AnalysisScheduler } from 'src/modules/analysis/refresh-analysis.processor';
import { ConversationService } from 'src/modules/chat/conversation.service';
import type { ConversationEntity, InvokeFrom } from 'src/modules/chat/entities/conversation.entity';
import type { MessageStatus } from 'src/modules/chat/entities/message.entity';
import { DataSource } from 'typeorm';

/**
 * GET /analysis/:app_id (CONSOLE-SHAPES §4.7) against messages the test wrote and back-dated:
 * every overview number and its period-over-period change, the daily trends, what is left out
 * (debug chat, unanswered messages, today, older than 14 days, other apps), an app without
 * traffic, ownership, the per-day cache and its refresh by the scheduled job.
 */
type Json = Record<string, any>;

const INDICATORS = [
  'total_messages',
  'active_accounts',
  'avg_of_conversation_messages',
  'token_output_rate',
  'cost_consumption',
];
const TRENDS = [
  'total_messages_trend',
  'active_accounts_trend',
  'avg_of_conversation_messages_trend',
  'cost_consumption_trend',
];

describe('App analysis (e2e)', () => {
  let t: TestApp;
  let store: ConversationService;
  let alice: TestAccount;
  let bob: TestAccount;

  beforeAll(async () => {
    // The window moves at local midnight: never straddle it between writing rows and reading.
    const now = new Date();
    const midnight = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1).getTime();
    if (midnight - now.getTime() < 120_000) await sleep(midnight - now.getTime() + 1000);
    t = await createTestApp();
    store = t.app.get(ConversationService);
    [alice, bob] = await Promise.all([createAccount(t), createAccount(t)]);
  }, 200_000);
  afterAll(async () => {
    await t?.close();
  });

  const get = async (who: TestAccount, p: string) => {
    const res = await t.http().get(p).set(who.auth);
    expect(res.status).toBe(200);
    return res.body as { code: string; message: string; data: Json };
  };
  const sql = (text: string, params: unknown[] = []) =>
    t.app.get(DataSource).query<Json[]>(text, params);

  const createApp = async (who: TestAccount): Promise<string> => {
    const res = await t
      .http()
      .post('/apps')
      .set(who.auth)
      .send({ name: 'Analysed', icon: 'http://localhost:5000/a.png', description: '' });
    expect(res.body.code).toBe('success');
    return res.body.data.id as string;
  };

  const conversation = (
    appId: string,
    owner: TestAccount,
    invokeFrom: InvokeFrom,
    createdBy: string,
  ): Promise<ConversationEntity> =>
    store.createConversation({ accountId: owner.id, appId, invokeFrom, createdBy });

  /** The middle of day `i` of the window (0..13; 14 is today) or an exact instant. */
  const at = (i: number): Date => {
    const { bounds } = analysisWindow(new Date());
    return new Date((bounds[i].getTime() + bounds[i + 1].getTime()) / 2);
  };

  /** A finished message created at `when`. */
  async function message(
    c: ConversationEntity,
    when: Date,
    m: {
      tokens: [number, number];
      latency: number;
      price: number;
      answer?: string;
      status?: MessageStatus;
    },
  ): Promise<string> {
    const row = await store.startMessage({ conversation: c, query: 'q' });
    await store.finishMessage(row, {
      answer: m.answer ?? 'an answer',
      status: m.status ?? 'normal',
      message_token_count: m.tokens[0],
      answer_token_count: m.tokens[1],
      total_price: m.price,
      latency: m.latency,
      thoughts: [],
    });
    await sql(`UPDATE messages SET created_at = $2 WHERE id = $1`, [row.id, when]);
    return row.id;
  }

  function expectShape(data: Json): void {
    expect(Object.keys(data).sort()).toEqual([...INDICATORS, ...TRENDS].sort());
    for (const k of INDICATORS) {
      expect(Object.keys(data[k]).sort()).toEqual(['data', 'pop']);
      expect(typeof data[k].data).toBe('number');
      expect(typeof data[k].pop).toBe('number');
    }
    const x = analysisWindow(new Date())
      .bounds.slice(7, 14)
      .map((b) => Math.floor(b.getTime() / 1000));
    for (const k of TRENDS) {
      expect(Object.keys(data[k]).sort()).toEqual(['x_axis', 'y_axis']);
      expect(data[k].x_axis).toEqual(x);
      expect(data[k].y_axis).toHaveLength(7);
    }
  }

  it('counts answered non-debug messages of the last 7 full days against the 7 before', async () => {
    const appId = await createApp(alice);
    const [u1, u2, u3] = [randomUUID(), randomUUID(), randomUUID()];
    const c1 = await conversation(appId, alice, 'web_app', u1);
    const c2 = await conversation(appId, alice, 'service_api', u2);
    const c3 = await conversation(appId, alice, 'web_app', u3);
    const p1 = await conversation(appId, alice, 'web_app', u1);

    // The previous 7 days: 2 messages, 1 sender, 1 conversation, 60 tokens in 2 s, 0.02.
    await message(p1, at(2), { tokens: [10, 20], latency: 1, price: 0.01 });
    await message(p1, at(2), { tokens: [10, 20], latency: 1, price: 0.01 });
    // The last 7 days: 6 messages, 3 senders, 3 conversations, 230 tokens in 10 s, 0.0205.
    await message(c1, at(8), { tokens: [10, 30], latency: 2, price: 0.003 });
    await message(c1, at(8), { tokens: [20, 20], latency: 1, price: 0.002 });
    await message(c1, at(10), { tokens: [5, 15], latency: 0.5, price: 0.001 });
    await message(c2, at(10), { tokens: [40, 60], latency: 4, price: 0.01 });
    const deleted = await message(c2, at(13), { tokens: [0, 10], latency: 0.5, price: 0.0005 });
    await message(c3, at(13), { tokens: [10, 10], latency: 2, price: 0.004 });
    // A deleted message leaves the lists, not the statistics (as the original).
    await sql(`UPDATE messages SET is_deleted = true WHERE id = $1`, [deleted]);

    // Left out: a turn without an answer, today, 15 days ago, another app.
    await message(c1, at(9), {
      tokens: [7, 0],
      latency: 3,
      price: 0.5,
      answer: '',
      status: 'error',
    });
    const { bounds } = analysisWindow(new Date());
    await message(c1, bounds[14], { tokens: [100, 100], latency: 1, price: 1 });
    await message(c1, new Date(bounds[0].getTime() - 3600_000), {
      tokens: [100, 100],
      latency: 1,
      price: 1,
    });
    const otherApp = await createApp(alice);
    const o = await conversation(otherApp, alice, 'web_app', u1);
    await message(o, at(9), { tokens: [100, 100], latency: 1, price: 1 });

    const res = await get(alice, `/analysis/${appId}`);
    expect(res.code).toBe('success');
    const d = res.data;
    expectShape(d);
    expect(d.total_messages).toEqual({ data: 6, pop: 2 }); // (6 - 2) / 2
    expect(d.active_accounts).toEqual({ data: 3, pop: 2 }); // (3 - 1) / 1
    expect(d.avg_of_conversation_messages).toEqual({ data: 2, pop: 0 }); // 6/3 vs 2/1
    expect(d.token_output_rate.data).toBeCloseTo(23, 10); // 230 / 10
    expect(d.token_output_rate.pop).toBeCloseTo(-7 / 30, 10); // (23 - 30) / 30
    expect(d.cost_consumption.data).toBeCloseTo(0.0205, 10);
    expect(d.cost_consumption.pop).toBeCloseTo(0.025, 10); // (0.0205 - 0.02) / 0.02

    // Days 7..13 of the window.
    expect(d.total_messages_trend.y_axis).toEqual([0, 2, 0, 2, 0, 0, 2]);
    expect(d.active_accounts_trend.y_axis).toEqual([0, 1, 0, 2, 0, 0, 2]);
    expect(d.avg_of_conversation_messages_trend.y_axis).toEqual([0, 2, 0, 1, 0, 0, 1]);
    const cost = d.cost_consumption_trend.y_axis as number[];
    [0, 0.005, 0, 0.011, 0, 0, 0.0045].forEach((v, i) => expect(cost[i]).toBeCloseTo(v, 10));
  });

  it('answers zeros for an app without traffic (no division by zero)', async () => {
    const appId = await createApp(alice);
    // Only an unanswered turn: nothing counts.
    const web = await conversation(appId, alice, 'web_app', randomUUID());
    await message(web, at(11), { tokens: [5, 0], latency: 0, price: 0, answer: '' });

    const res = await get(alice, `/analysis/${appId}`);
    expect(res.code).toBe('success');
    expectShape(res.data);
    for (const k of INDICATORS) expect(res.data[k]).toEqual({ data: 0, pop: 0 });
    for (const k of TRENDS) expect(res.data[k].y_axis).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });

  it("counts the owner's debug chat like any other traffic (as the original)", async () => {
    const appId = await createApp(alice);
    const debug = await conversation(appId, alice, 'debugger', alice.id);
    await message(debug, at(10), { tokens: [5, 5], latency: 1, price: 0.1 });
    await message(debug, at(10), { tokens: [5, 5], latency: 1, price: 0.1 });
    const { data } = await get(alice, `/analysis/${appId}`);
    expect(data.total_messages).toEqual({ data: 2, pop: 0 });
    expect(data.active_accounts).toEqual({ data: 1, pop: 0 });
    expect(data.total_messages_trend.y_axis).toEqual([0, 0, 0, 2, 0, 0, 0]);
  });

  it('gives pop 0 when the previous week had nothing, whatever this week has', async () => {
    const appId = await createApp(alice);
    const c = await conversation(appId, alice, 'web_app', randomUUID());
    await message(c, at(12), { tokens: [3, 7], latency: 0, price: 0.25 });
    const { data } = await get(alice, `/analysis/${appId}`);
    expect(data.total_messages).toEqual({ data: 1, pop: 0 });
    expect(data.token_output_rate).toEqual({ data: 0, pop: 0 }); // no latency: no rate
    expect(data.cost_consumption).toEqual({ data: 0.25, pop: 0 });
    expect(data.total_messages_trend.y_axis).toEqual([0, 0, 0, 0, 0, 1, 0]);
  });

  it('is only for the app’s owner: another account, an unknown or a malformed id answer not_found', async () => {
    const appId = await createApp(alice);
    const c = await conversation(appId, alice, 'web_app', randomUUID());
    await message(c, at(9), { tokens: [1, 1], latency: 1, price: 0 });
    for (const path of [`/analysis/${appId}`, `/analysis/${randomUUID()}`, '/analysis/nope']) {
      const res = await get(bob, path);
      expect(res.code).toBe('not_found');
      expect(res.data).toEqual({});
    }
    // Bob's attempt cached nothing that Alice could read as his.
    expect(await sql(`SELECT 1 FROM app_analyses WHERE account_id = $1`, [bob.id])).toEqual([]);
    const res = await t.http().get(`/analysis/${appId}`);
    expect(res.body.code).toBe('unauthorized');
  });

  it('caches a day’s answer; the scheduled refresh recomputes it and drops other days', async () => {
    const appId = await createApp(alice);
    const c = await conversation(appId, alice, 'web_app', randomUUID());
    await message(c, at(9), { tokens: [10, 10], latency: 2, price: 0.01 });
    const first = await get(alice, `/analysis/${appId}`);
    expect(first.data.total_messages.data).toBe(1);

    // A late answer for a past day: the cached answer stands until the refresh.
    await message(c, at(11), { tokens: [10, 30], latency: 2, price: 0.02 });
    expect((await get(alice, `/analysis/${appId}`)).data).toEqual(first.data);
    const [row] = await sql(`SELECT account_id, day FROM app_analyses WHERE app_id = $1`, [appId]);
    expect(row).toEqual({ account_id: alice.id, day: analysisWindow(new Date()).day });

    // A stale row of another day goes.
    await sql(
      `INSERT INTO app_analyses (account_id, app_id, day, data) VALUES ($1, $2, '2000-01-01', '{}')`,
      [alice.id, appId],
    );
    const jobs = t.app.get(JobQueue);
    await t.app.get(AnalysisScheduler).schedule();
    const [job] = await sql(
      `SELECT id FROM queue_jobs WHERE name = 'maintenance.refresh-analysis' ORDER BY created_at DESC LIMIT 1`,
    );
    const done = await jobs.waitFor(job.id as string, 20_000);
    expect(done.status).toBe('completed');
    expect((done.result as { apps: number }).apps).toBeGreaterThanOrEqual(1);

    const after = await get(alice, `/analysis/${appId}`);
    expect(after.data.total_messages.data).toBe(2);
    expect(after.data.token_output_rate.data).toBe(15); // 60 tokens / 4 s
    expect(after.data.total_messages_trend.y_axis).toEqual([0, 0, 1, 0, 1, 0, 0]);
    expect(
      await sql(`SELECT day FROM app_analyses WHERE app_id = $1 ORDER BY day`, [appId]),
    ).toEqual([{ day: analysisWindow(new Date()).day }]);
  });
});
