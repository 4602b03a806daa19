import { createTestApp, TestApp } from '@test/support/app-factory';
import { FixtureModule, sseState } from '@test/support/fixture.module';
import * as http from 'node:http';

interface Frame {
  event: string;
  data: any;
}

/** POSTs and collects SSE frames as they arrive; `stopAfter` disconnects after n frames. */
function stream(
  url: string,
  body: unknown,
  stopAfter?: number,
): Promise<{
  status: number;
  headers: http.IncomingHttpHeaders;
  frames: Frame[];
  comments: string[];
  raw: string;
}> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/fixture/stream`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let raw = '';
      const frames: Frame[] = [];
      const comments: string[] = [];
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw += chunk;
        // Re-parse everything received so far (small streams; keeps the parser obvious).
        let idx: number;
        frames.length = 0;
        comments.length = 0;
        let buffer = raw;
        while ((idx = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, idx);
          buffer = buffer.slice(idx + 2);
          const lines = block.split('\n');
          // A block of comment lines only (`: ping`) is a keep-alive, not an event.
          if (lines.every((l) => l.startsWith(':'))) {
            comments.push(...lines);
            continue;
          }
          const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? '';
          const dataLines = lines.filter((l) => l.startsWith('data: '));
          expect(dataLines).toHaveLength(1); // one line of JSON per frame
          frames.push({ event, data: JSON.parse(dataLines[0].slice(6)) });
        }
        if (
          stopAfter !== undefined &&
          frames.filter((f) => f.event !== 'ping').length >= stopAfter
        ) {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, frames, comments, raw });
        }
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, frames, comments, raw }),
      );
    });
    req.end(JSON.stringify(body));
  });
}

describe('SSE helper', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ imports: [FixtureModule], env: { SSE_PING_INTERVAL_MS: '60' } });
  });
  afterAll(() => t.close());

  it('sends event-stream headers and one-line JSON frames, then ends', async () => {
    const res = await stream(t.url, { count: 3, interval_ms: 5 });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.headers['content-type']).not.toMatch(/application\/json/);
    expect(res.headers['cache-control']).toMatch(/no-cache/);
    expect(res.headers['x-accel-buffering']).toBe('no');
    const events = res.frames.filter((f) => f.event !== 'ping');
    expect(events.map((f) => f.event)).toEqual([
      'agent_message',
      'agent_message',
      'agent_message',
      'agent_end',
    ]);
    expect(events[0].data).toEqual({
      id: 'm1',
      event: 'agent_message',
      thought: 'tok0\nline',
      answer: 'tok0',
    });
    expect(res.raw).toMatch(/^((event: \w+\ndata: \{.*\}|: ping)\n\n)+$/);
  });

  it('keeps an idle stream alive with SSE comment lines, never with an event', async () => {
    // The console appends the payload of every event it does not know (a `ping` event put
    // "undefined" into the optimized prompt), so keep-alives must be comments.
    const res = await stream(t.url, { count: 2, interval_ms: 200 });
    expect(res.comments.filter((c) => c === ': ping').length).toBeGreaterThanOrEqual(2);
    expect(res.frames.map((f) => f.event)).toEqual(['agent_message', 'agent_message', 'agent_end']);
  });

  it('sends ping events on streams that ask for them (the agent streams)', async () => {
    const res = await stream(t.url, { count: 2, interval_ms: 200, ping_event: true });
    expect(res.frames.filter((f) => f.event === 'ping').length).toBeGreaterThanOrEqual(2);
    expect(res.comments).toEqual([]);
  });

  it('ends a stream that fails after it opened with an error frame (HTTP stays 200)', async () => {
    const res = await stream(t.url, { count: 3, fail_at: 1 });
    expect(res.status).toBe(200);
    const events = res.frames.filter((f) => f.event !== 'ping');
    expect(events.map((f) => f.event)).toEqual(['agent_message', 'error']);
    expect(events[1].data.observation).toBe('model provider went away');
  });

  it('aborts the producer when the client disconnects', async () => {
    const before = { ...sseState };
    await stream(t.url, { count: 50, interval_ms: 20 }, 2);
    const deadline = Date.now() + 3000;
    while (sseState.aborted === before.aborted && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(sseState.aborted).toBe(before.aborted + 1);
    // The producer stopped long before its 50 frames.
    expect(sseState.ticks - before.ticks).toBeLessThan(10);
  });
});
