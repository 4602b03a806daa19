import { AccessTokenVerifier, bearerToken } from '@app/common';
import { Logger } from '@nestjs/common';
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

/**
 * The one socket.io server (path /socket.io). The handshake carries the access token
 * (`auth.token` or `Authorization: Bearer`), verified by the same service as HTTP; a bad token
 * gets an `error` event and is disconnected.
 */
@WebSocketGateway({ path: '/socket.io' })
export class RealtimeGateway implements OnGatewayInit, OnGatewayConnection {
  private readonly logger = new Logger('Realtime');
  @WebSocketServer() server: Server<
    Record<string, never>,
    ServerToClientEvents,
    Record<string, never>,
    SocketData
  >;
  /** Why a handshake was refused, from the middleware to handleConnection. */
  private readonly refused = new WeakMap<AppSocket, string>();

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
      await client.leave(room);
      ack?.({ ok: true });
      return;
    }
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
    ack?.({ ok: true, room });
    const snap = await spec.snapshot?.(client.data.accountId, body);
    if (snap) client.emit(snap.event, snap.data);
  }
}
