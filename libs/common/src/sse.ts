import type { Request, Response } from 'express';

export interface SseOptions {
  /** Keep-alive ping period; CONTRACT.md says 10 s. */
  pingIntervalMs?: number;
  /**
   * Keep-alive as an `event: ping` frame instead of an SSE comment. Only the agent streams use it
   * (`ping` is one of the original's agent events, and the console skips it there); elsewhere the
   * console appends the payload of every event it does not know, so a comment line is the only
   * keep-alive it ignores.
   */
  pingEvent?: boolean;
  /** The `data` of a `ping` event (default `{}`); agent streams send the shape of every frame. */
  pingData?: () => unknown;
}

/**
 * One Server-Sent-Events response. Each frame is written in one `write` (the console parses
 * frame by frame), `data` is one line of JSON, a keep-alive goes out every interval (an SSE
 * comment `: ping`, or a `ping` event where the stream asks for one), and `signal`
 * aborts when the client goes away so producers stop working for nobody.
 */
export class SseStream {
  private readonly controller = new AbortController();
  private pingTimer?: NodeJS.Timeout;
  private opened = false;

  constructor(
    private readonly req: Request,
    private readonly res: Response,
    private readonly options: SseOptions = {},
  ) {
    const onClose = () => {
      if (!this.res.writableEnded) this.controller.abort(new Error('client disconnected'));
      this.stopPing();
    };
    res.on('close', onClose);
  }

  /** Aborted when the client disconnects (or `close()` is called early). */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get closed(): boolean {
    return this.res.writableEnded || this.controller.signal.aborted;
  }

  open(): this {
    if (this.opened) return this;
    this.opened = true;
    this.res.status(200);
    this.res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    this.res.setHeader('Cache-Control', 'no-cache, no-transform');
    this.res.setHeader('Connection', 'keep-alive');
    this.res.setHeader('X-Accel-Buffering', 'no');
    this.res.flushHeaders();
    this.req.socket?.setNoDelay?.(true);
    const every = this.options.pingIntervalMs ?? 10_000;
    this.pingTimer = setInterval(() => this.ping(), every);
    this.pingTimer.unref();
    return this;
  }

  /** Writes one frame; returns false when the client is gone. */
  send(event: string, data: unknown): boolean {
    if (this.closed) return false;
    if (!this.opened) this.open();
    const json = JSON.stringify(data ?? {}); // JSON.stringify never emits raw newlines
    return this.res.write(`event: ${event}\ndata: ${json}\n\n`);
  }

  private ping(): void {
    if (this.closed) return;
    if (this.options.pingEvent) this.send('ping', this.options.pingData?.() ?? {});
    else this.res.write(': ping\n\n');
  }

  /** A failure after the stream opened: an `error` frame (HTTP status stays 200), then the end. */
  fail(message: string, extra: Record<string, unknown> = {}): void {
    this.send('error', { ...extra, event: 'error', observation: message, message });
    this.close();
  }

  close(): void {
    this.stopPing();
    if (!this.res.writableEnded) this.res.end();
  }

  private stopPing(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }
}
