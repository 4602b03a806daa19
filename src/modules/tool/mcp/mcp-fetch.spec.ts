import { OutboundRequestError } from '@app/http';
import { capBody, watchAnswer } from './mcp-fetch';

const streamOf = (...chunks: string[]) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (const chunk of chunks) c.enqueue(new TextEncoder().encode(chunk));
      c.close();
    },
  });
const sse = (...chunks: string[]) =>
  new Response(streamOf(...chunks), { headers: { 'content-type': 'text/event-stream' } });
const call = { method: 'POST', body: '{"jsonrpc":"2.0","id":7,"method":"tools/call"}' };
const tick = () => new Promise((r) => setImmediate(r));

describe('capBody', () => {
  it('passes a body within the cap through', async () => {
    const onTooLarge = jest.fn();
    const res = capBody(new Response(streamOf('abc', 'def')), 6, onTooLarge);
    expect(await res.text()).toBe('abcdef');
    expect(onTooLarge).not.toHaveBeenCalled();
  });

  it('errors the body past the cap and says so', async () => {
    const onTooLarge = jest.fn();
    const res = capBody(new Response(streamOf('0123456789', '0123456789', 'x')), 15, onTooLarge);
    await expect(res.text()).rejects.toMatchObject({ code: 'too_large' });
    expect(onTooLarge).toHaveBeenCalledWith(expect.any(OutboundRequestError));
  });
});

describe('watchAnswer', () => {
  it('stays quiet when the answer came on the stream (split across chunks)', async () => {
    const onUnanswered = jest.fn();
    const res = watchAnswer(
      sse('event: message\ndata: {"jsonrpc":"2.0",', '"id":7,"result":{}}\n\n'),
      call,
      onUnanswered,
    );
    expect(await res.text()).toContain('"id":7');
    await tick();
    expect(onUnanswered).not.toHaveBeenCalled();
  });

  it('calls back when the stream ends before the answer', async () => {
    const onUnanswered = jest.fn();
    const res = watchAnswer(
      sse('data: {"jsonrpc":"2.0","method":"notifications/progress"}\n\n', ': ping\n\n'),
      call,
      onUnanswered,
    );
    await res.text();
    await tick();
    expect(onUnanswered).toHaveBeenCalledTimes(1);
  });

  it('an answer to another request does not count', async () => {
    const onUnanswered = jest.fn();
    await watchAnswer(sse('data: {"id":8,"result":{}}\n\n'), call, onUnanswered).text();
    await tick();
    expect(onUnanswered).toHaveBeenCalledTimes(1);
  });

  it('leaves notifications, GETs and JSON answers alone', () => {
    const notification = {
      method: 'POST',
      body: '{"jsonrpc":"2.0","method":"notifications/initialized"}',
    };
    for (const [res, init] of [
      [sse('x'), notification],
      [sse('x'), { method: 'GET' }],
      [Response.json({ id: 7, result: {} }), call],
    ] as const) {
      expect(watchAnswer(res, init, jest.fn())).toBe(res);
    }
  });
});
