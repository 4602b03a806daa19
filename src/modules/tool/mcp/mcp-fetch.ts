import { limitBody, OutboundRequestError } from '@app/http';

/*
 * Response wrappers for the MCP connector's fetch: a size cap, and a watch for a request whose
 * answer never came on its own event stream.
 */

/** The same response with a body that errors once more than `max` bytes have arrived. */
export function capBody(
  res: Response,
  max: number,
  onTooLarge: (err: OutboundRequestError) => void,
): Response {
  return limitBody(res, {
    maxBytes: max,
    tooLarge: () => {
      const err = new OutboundRequestError(
        'too_large',
        `The MCP server sent more than ${max} bytes in one response`,
      );
      onTooLarge(err);
      return err;
    },
  });
}

/**
 * A Streamable HTTP server answers a request on the POST's own event stream. When that stream
 * ends (a server going away closes it cleanly) before the answer came, the SDK would wait for
 * its timeout: this calls `onUnanswered` instead, so the caller fails at once.
 */
export function watchAnswer(
  res: Response,
  init: RequestInit | undefined,
  onUnanswered: () => void,
): Response {
  const type = res.headers.get('content-type') ?? '';
  if (init?.method !== 'POST' || !res.ok || !res.body || !type.includes('text/event-stream'))
    return res;
  // The SDK sends each message as a JSON string.
  if (typeof init.body !== 'string') return res;
  let id: unknown;
  try {
    const sent = JSON.parse(init.body) as { id?: unknown; method?: unknown };
    if (sent.method !== undefined) id = sent.id;
  } catch {
    return res;
  }
  if (id === undefined) return res;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  let data: string[] = [];
  let answered = false;
  const line = (text: string) => {
    if (text.startsWith('data:')) data.push(text.slice(5).replace(/^ /, ''));
    else if (text === '' && data.length) {
      try {
        const msg = JSON.parse(data.join('\n')) as {
          id?: unknown;
          result?: unknown;
          error?: unknown;
        };
        if (msg.id === id && (msg.result !== undefined || msg.error !== undefined)) answered = true;
      } catch {
        // Not ours to judge: the SDK reports bad messages.
      }
      data = [];
    }
  };
  const end = () => {
    line('');
    if (!answered) setImmediate(onUnanswered);
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        end();
        throw err;
      }
      if (chunk.done) {
        end();
        return controller.close();
      }
      if (!answered) {
        pending += decoder.decode(chunk.value, { stream: true });
        const lines = pending.split(/\r\n|\r|\n/);
        pending = lines.pop() ?? '';
        lines.forEach(line);
      }
      controller.enqueue(chunk.value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  const watched = new Response(body, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
  Object.defineProperty(watched, 'url', { value: res.url });
  return watched;
}
