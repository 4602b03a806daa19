import { io, ManagerOptions, Socket, SocketOptions } from 'socket.io-client';

export type ClientSocket = Socket;
type Payload = Record<string, any>;

const DEFAULT_TIMEOUT_MS = 5000;

/**
 * Opens socket.io clients against a test app and closes them all at the end of a test, so a
 * failing assertion never leaves a socket (and its timers) behind.
 */
export class SocketTracker {
  private readonly sockets = new Set<ClientSocket>();

  /** A client on `url` (path /socket.io, websocket only, no reconnection), not yet awaited. */
  open(url: string, opts: Partial<ManagerOptions & SocketOptions> = {}): ClientSocket {
    const socket = io(url, {
      path: '/socket.io',
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      ...opts,
    });
    this.sockets.add(socket);
    return socket;
  }

  /** Opens a client authenticated with `token` and waits until the handshake is accepted. */
  async connect(
    url: string,
    token: string,
    opts: Partial<ManagerOptions & SocketOptions> = {},
  ): Promise<ClientSocket> {
    const socket = this.open(url, { auth: { token }, ...opts });
    await connected(socket);
    return socket;
  }

  closeAll(): void {
    for (const socket of this.sockets) socket.disconnect();
    this.sockets.clear();
  }
}

/** Resolves once the socket is connected; rejects on connect_error or timeout. */
export function connected(socket: ClientSocket, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  if (socket.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`socket did not connect within ${timeoutMs} ms`));
    }, timeoutMs);
    const onConnect = () => {
      cleanup();
      resolve();
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
    };
    socket.on('connect', onConnect);
    socket.on('connect_error', onError);
  });
}

/** The next `event` whose payload matches, or a rejection after `timeoutMs`. */
export function nextEvent<T = Payload>(
  socket: ClientSocket,
  event: string,
  match: (payload: T) => boolean = () => true,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, listener);
      reject(new Error(`no "${event}" event within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (payload: T) => {
      if (!match(payload)) return;
      clearTimeout(timer);
      socket.off(event, listener);
      resolve(payload);
    };
    socket.on(event, listener);
  });
}

/** Every payload of `event` received from now on (for "received nothing" assertions). */
export function collect<T = Payload>(socket: ClientSocket, event: string): T[] {
  const received: T[] = [];
  socket.on(event, (payload: T) => received.push(payload));
  return received;
}

/** Emits and waits for the server's acknowledgement. */
export function emitWithAck<T = Payload>(
  socket: ClientSocket,
  event: string,
  payload: unknown,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<T> {
  return socket.timeout(timeoutMs).emitWithAck(event, payload) as Promise<T>;
}

/**
 * Calls `emit` now and every `intervalMs` until `socket` receives a matching `event` (Redis
 * pub/sub subscriptions are set up asynchronously, so the first publish may predate them).
 */
export async function receiveWhileEmitting<T = Payload>(
  socket: ClientSocket,
  event: string,
  emit: () => void,
  match: (payload: T) => boolean,
  { intervalMs = 100, timeoutMs = DEFAULT_TIMEOUT_MS } = {},
): Promise<T> {
  const received = nextEvent<T>(socket, event, match, timeoutMs);
  emit();
  const timer = setInterval(emit, intervalMs);
  try {
    return await received;
  } finally {
    clearInterval(timer);
  }
}

/** What a refused handshake produced: the `error` payload, then the disconnect reason. */
export function refusal(
  socket: ClientSocket,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<{ error: { message: string }; reason: string; order: string[] }> {
  return new Promise((resolve, reject) => {
    const order: string[] = [];
    let error: { message: string } | undefined;
    const timer = setTimeout(
      () => reject(new Error(`handshake not refused within ${timeoutMs} ms (${order.join(',')})`)),
      timeoutMs,
    );
    socket.on('error', (payload: { message: string }) => {
      order.push('error');
      error = payload;
    });
    socket.on('connect_error', (err: Error) => order.push(`connect_error:${err.message}`));
    socket.on('disconnect', (reason: string) => {
      order.push('disconnect');
      clearTimeout(timer);
      if (error) resolve({ error, reason, order });
      else reject(new Error(`disconnected without an error event (${order.join(',')})`));
    });
  });
}
