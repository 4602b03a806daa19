import type { TestApp } from './app-factory';
import { eventually } from './eventually';
import { UsageService } from 'src/modules/model/runtime/usage.service';
import type { ModelUsageEntity } from 'src/modules/model/entities/model-usage.entity';
import * as http from 'node:http';

/** Usage rows of one account, oldest first, waiting (briefly) until `until` holds. */
export async function usageRows(
  t: TestApp,
  accountId: string,
  until: (rows: ModelUsageEntity[]) => boolean = () => true,
  timeoutMs = 3000,
): Promise<ModelUsageEntity[]> {
  return eventually(
    async () => (await t.app.get(UsageService).recent(accountId, 100)).reverse(),
    until,
    timeoutMs,
    25,
  );
}

export interface SseFrame {
  event: string;
  data: any;
}

export interface SseResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Parsed frames (only for event-stream answers). */
  frames: SseFrame[];
  /** SSE comment lines (keep-alives such as `: ping`). */
  comments: string[];
  /** The whole body as received. */
  raw: string;
}

/** POSTs JSON and reads the whole answer, parsing `event:`/`data:` frames when it is a stream. */
export function postStream(
  url: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<SseResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let raw = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (raw += chunk));
      res.on('error', reject);
      res.on('end', () => {
        const frames: SseFrame[] = [];
        const comments: string[] = [];
        if (/text\/event-stream/.test(String(res.headers['content-type']))) {
          for (const block of raw.split('\n\n')) {
            if (!block.trim()) continue;
            const lines = block.split('\n');
            if (lines.every((l) => l.startsWith(':'))) {
              comments.push(...lines);
              continue;
            }
            const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? '';
            const data = lines.filter((l) => l.startsWith('data: '));
            if (data.length !== 1) throw new Error(`frame without one data line: ${block}`);
            frames.push({ event, data: JSON.parse(data[0].slice(6)) });
          }
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, frames, comments, raw });
      });
    });
    req.end(JSON.stringify(body));
  });
}

/** An OpenAI-style tool definition the model specs bind to chat models. */
/** A stream read as it arrives: wait for a frame, or drop the connection half-way. */
export interface LiveStream {
  frames: SseFrame[];
  /** The first frame (already received or to come) that matches. */
  waitFor(pred: (f: SseFrame) => boolean): Promise<SseFrame>;
  /** Resolves when the response ends (or the connection is dropped). */
  done: Promise<void>;
  /** Drops the connection (a client that goes away). */
  drop(): void;
}

export function openStream(
  url: string,
  body: unknown,
  headers: Record<string, string>,
): LiveStream {
  const frames: SseFrame[] = [];
  const waiters: Array<{ pred: (f: SseFrame) => boolean; resolve: (f: SseFrame) => void }> = [];
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const req = http.request(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
  });
  req.on('error', () => finish());
  req.on('response', (res) => {
    let buffer = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let idx: number;
      while ((idx = buffer.indexOf('\n\n')) >= 0) {
        const lines = buffer.slice(0, idx).split('\n');
        buffer = buffer.slice(idx + 2);
        const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? '';
        const data = lines.find((l) => l.startsWith('data: '));
        if (!event || !data) continue;
        const frame = { event, data: JSON.parse(data.slice(6)) as unknown };
        frames.push(frame);
        for (const w of [...waiters])
          if (w.pred(frame)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(frame);
          }
      }
    });
    res.on('end', () => finish());
    res.on('close', () => finish());
  });
  req.end(JSON.stringify(body));
  return {
    frames,
    waitFor: (pred) => {
      const seen = frames.find(pred);
      return seen
        ? Promise.resolve(seen)
        : new Promise<SseFrame>((resolve) => waiters.push({ pred, resolve }));
    },
    done,
    drop: () => req.destroy(),
  };
}

export const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
    },
  },
};

/** A message's content as text (structured content serialized). */
export function text(content: unknown): string {
  return typeof content === 'string' ? content : JSON.stringify(content);
}

/** The error `fn` rejects with; fails the test when it resolves. */
export async function catchError(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}
