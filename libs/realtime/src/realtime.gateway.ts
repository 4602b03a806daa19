import { AccessTokenVerifier, type AuthPrincipal, bearerToken } from '@app/common';
import { Logger, OnApplicationShutdown } from '@nestjs/common';
import {
  OnGatewayConnection,
  OnGatewayInit,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import type { Server, Socket } from 'socket.io';
import { accountRoom, ServerToClientEvents, SocketData } from './realtime.events';
import { RealtimeSubscriptions } from './subscriptions';

type AppSocket = Socket<
  Record<string, (...args: any[]) => void>,
  ServerToClientEvents,
  Record<string, never>,
  SocketData
>;

/** How often connected sockets' sessions are checked again (a sign-out elsewhere ends them). */
export const SESSION_SWEEP_MS = 10_000;

/**
 * The one socket.io server (path /socket.io). The handshake carries the access token
 * (`auth.token` or `Authorization: Bearer`), verified by the same service as HTTP; a bad token
 * gets an `error` event and is disconnected. A connection outlives its access token, so what
 * keeps it is its session: checked again (with the account's current role) on every
 * subscription and every SESSION_SWEEP_MS; a signed-out, revoked or password-changed session is
 * disconnected.
 */
@WebSocketGateway({ path: '/socket.io' })
export class RealtimeGateway implements OnGatewayInit, OnGatewayConnection, OnApplicationShutdown {
  private readonly logger = new Logger('Realtime');
  @WebSocketServer() server: Server<
    Record<string, never>,
    ServerToClientEvents,
    Record<string, never>,
    SocketData
  >;
  /** Why a handshake was refused, from the middleware to handleConnection. */
  private readonly refused = new WeakMap<AppSocket, string>();
  private sweeper?: NodeJS.Timeout;
  private sweeping = false;

  constructor(
    private readonly verifier: AccessTokenVerifier,
    private readonly subscriptions: RealtimeSubscriptions,
  ) {}

  /**
   * The token is verified in a middleware, before socket.io confirms the connection: a client's
   * `connect` then means it is authenticated and in its account room, and the messages it sends
   * right away (socket.io-client buffers emits until `connect`) are not lost while verifying.
   */
  afterInit(server: Server): void {
    server.use((socket, next) => {
      void this.authenticate(socket as AppSocket).finally(() => next());
    });
    this.sweeper = setInterval(() => void this.sweep(), SESSION_SWEEP_MS).unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweeper);
  }

  /** Disconnects the sockets of this process whose session ended; refreshes the others' role. */
  async sweep(): Promise<void> {
    if (this.sweeping || !this.server) return;
    this.sweeping = true;
    try {
      const sockets = [...this.server.sockets.sockets.values()] as unknown as AppSocket[];
      // One check per session, however many tabs it has open.
      const seen = new Map<string, Promise<AuthPrincipal | null | undefined>>();
      for (const socket of sockets) if (socket.connected) await this.stillSignedIn(socket, seen);
    } finally {
      this.sweeping = false;
    }
  }

  /** Whether the socket's session is live; if not, it is told and disconnected. */
  private async stillSignedIn(
    client: AppSocket,
    seen?: Map<string, Promise<AuthPrincipal | null | undefined>>,
  ): Promise<boolean> {
    const { sessionId } = client.data;
    if (!sessionId) return !!client.data.accountId;
    let check = seen?.get(sessionId);
    if (!check) {
      check = this.verifier.session(sessionId).catch(() => undefined);
      seen?.set(sessionId, check);
    }
    const principal = await check;
    // A failed check (database away) keeps the socket: the next sweep decides.
    if (principal === undefined) return true;
    if (!principal || principal.accountId !== client.data.accountId) {
      client.emit('error', { message: 'The session has ended, please sign in again' });
      client.disconnect(true);
      return false;
    }
    const before = client.data.role;
    client.data.role = principal.role;
    if (before !== principal.role) await this.reauthorize(client);
    return true;
  }

  /**
   * After a role change, each resource room is authorized again with the new role: an admin
   * made a member leaves the rooms of other accounts' resources it could follow as an admin.
   */
  private async reauthorize(client: AppSocket): Promise<void> {
    for (const [room, { event, body }] of client.data.rooms ?? []) {
      const spec = this.subscriptions.forSubscribe(event);
      const allowed = spec
        ? await spec.authorize(client.data.accountId, body, client.data.role).catch(() => true)
        : false;
      if (allowed) continue;
      client.data.rooms?.delete(room);
      await client.leave(room);
    }
  }

  private async authenticate(client: AppSocket): Promise<void> {
    const fromAuth: unknown = client.handshake.auth?.token;
    const token =
      typeof fromAuth === 'string' && fromAuth
        ? fromAuth.replace(/^Bearer\s+/i, '')
        : bearerToken(client.handshake.headers.authorization);
    const principal = token ? await this.verifier.verify(token).catch(() => null) : null;
    if (!principal) {
      this.refused.set(client, token ? 'Invalid or expired access token' : 'Missing access token');
      return;
    }
    client.data.accountId = principal.accountId;
    client.data.role = principal.role;
    client.data.sessionId = principal.sessionId;
  }

  /** Synchronous on purpose: the room and the message handler exist before any client message. */
  handleConnection(client: AppSocket): void {
    if (!client.data.accountId) {
      client.emit('error', { message: this.refused.get(client) ?? 'Missing access token' });
      client.disconnect(true);
      return;
    }
    void client.join(accountRoom(client.data.accountId));
    client.onAny((event: string, payload: unknown, ack?: unknown) => {
      void this.dispatch(
        client,
        event,
        payload,
        typeof ack === 'function' ? (ack as (r: unknown) => void) : undefined,
      );
    });
  }

  private async dispatch(
    client: AppSocket,
    event: string,
    payload: unknown,
    ack?: (r: unknown) => void,
  ): Promise<void> {
    const body = (payload ?? {}) as Record<string, unknown>;
    const sub = this.subscriptions.forSubscribe(event);
    const unsub = sub ? undefined : this.subscriptions.forUnsubscribe(event);
    const spec = sub ?? unsub;
    if (!spec) return; // other messages (chat_send, ...) are handled by their modules' gateways
    const room = spec.room(body);
    if (!room) {
      const message = `${event}: missing or invalid parameters`;
      client.emit('error', { message });
      ack?.({ ok: false, message });
      return;
    }
    if (unsub) {
      client.data.rooms?.delete(room);
      await client.leave(room);
      ack?.({ ok: true });
      return;
    }
    // The session, and the role it has now, decide: not what they were at the handshake.
    if (!(await this.stillSignedIn(client))) return;
    const allowed = await spec
      .authorize(client.data.accountId, body, client.data.role)
      .catch((err: unknown) => {
        this.logger.warn(`authorize ${event} failed: ${String(err)}`);
        return false;
      });
    if (!allowed) {
      // Same answer for "not yours" and "does not exist".
      const message = `${event}: the resource does not exist`;
      client.emit('error', { message });
      ack?.({ ok: false, message });
      return;
    }
    await client.join(room);
    (client.data.rooms ??= new Map()).set(room, { event, body });
    ack?.({ ok: true, room });
    const snap = await spec.snapshot?.(client.data.accountId, body);
    if (snap) client.emit(snap.event, snap.data);
  }
}
