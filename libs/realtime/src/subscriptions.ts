import { Injectable } from '@nestjs/common';
import type { ServerEvent, ServerPayload } from './realtime.events';

/**
 * A client `subscribe_<x>` message: which room it joins, who may join it (authorized like the
 * matching GET), and an optional snapshot sent on subscribe. Modules register theirs.
 */
export interface SubscriptionSpec<P = any> {
  /** e.g. `subscribe_download`; `unsubscribe` defaults to `un` + this. */
  subscribe: string;
  unsubscribe?: string;
  room(payload: P): string | null;
  authorize(accountId: string, payload: P, role?: string): Promise<boolean>;
  snapshot?(
    accountId: string,
    payload: P,
  ): Promise<{ event: ServerEvent; data: ServerPayload<ServerEvent> } | null>;
}

@Injectable()
export class RealtimeSubscriptions {
  private readonly bySubscribe = new Map<string, SubscriptionSpec>();
  private readonly byUnsubscribe = new Map<string, SubscriptionSpec>();

  register<P>(spec: SubscriptionSpec<P>): void {
    if (this.bySubscribe.has(spec.subscribe))
      throw new Error(`subscription ${spec.subscribe} registered twice`);
    this.bySubscribe.set(spec.subscribe, spec);
    this.byUnsubscribe.set(spec.unsubscribe ?? `un${spec.subscribe}`, spec);
  }

  forSubscribe(event: string): SubscriptionSpec | undefined {
    return this.bySubscribe.get(event);
  }

  forUnsubscribe(event: string): SubscriptionSpec | undefined {
    return this.byUnsubscribe.get(event);
  }
}
