/** Server-to-client events and payloads (CONTRACT.md, socket.io section). */
export interface ServerToClientEvents {
  error: (payload: { message: string }) => void;
  subscribed: (payload: { event: string; room: string }) => void;
  job_progress: (payload: {
    id: string;
    name: string;
    status: string;
    progress: number;
    progress_message: string | null;
    error: string | null;
  }) => void;
  download_status: (payload: Record<string, unknown>) => void;
  download_progress: (payload: {
    task_id: string;
    status: string;
    progress: number;
    downloaded_size: number;
    total_size: number;
    speed: number;
    eta: number | null;
    files: unknown[];
  }) => void;
  download_status_change: (payload: Record<string, unknown>) => void;
  download_completed: (payload: Record<string, unknown>) => void;
  download_failed: (payload: Record<string, unknown>) => void;
  deployment_status: (payload: Record<string, unknown>) => void;
  deployment_status_change: (payload: Record<string, unknown>) => void;
  deployment_log: (payload: Record<string, unknown>) => void;
  document_status_change: (payload: {
    document_id: string;
    status: string;
    progress: number;
    error: string | null;
  }) => void;
  workflow_node: (payload: Record<string, unknown>) => void;
  workflow_finished: (payload: Record<string, unknown>) => void;
  chat_token: (payload: { session_id: string; message_id: string; delta: string }) => void;
  chat_end: (payload: { message_id: string; usage: unknown; latency: number }) => void;
  chat_error: (payload: { message: string; session_id?: string }) => void;
  chat_stopped: (payload: { task_id: string }) => void;
  system_metrics: (payload: Record<string, unknown>) => void;
  model_status: (payload: Record<string, unknown>) => void;
  notification: (payload: Record<string, unknown>) => void;
}
export type ServerEvent = keyof ServerToClientEvents;
export type ServerPayload<E extends ServerEvent> = Parameters<ServerToClientEvents[E]>[0];

export interface SocketData {
  accountId: string;
  role?: string;
  /** The console session the handshake's token belongs to (re-checked while connected). */
  sessionId?: string;
  /** Resource rooms joined, with the subscribe event and body that were authorized. */
  rooms?: Map<string, { event: string; body: Record<string, unknown> }>;
}

export const accountRoom = (accountId: string): string => `account:${accountId}`;
