import type { AppConfig } from '@app/config';
import type { OutboundHttpClient } from '@app/http';

/** What a builtin tool's code gets for one call. */
export interface BuiltinCallContext {
  /** The LLM's arguments, already checked against the tool's input schema. */
  args: Record<string, unknown>;
  /** The settings, already checked against the declared params (defaults filled). */
  params: Record<string, unknown>;
  signal: AbortSignal;
  http: OutboundHttpClient;
  env: AppConfig['env'];
}

/** The code behind one tool of a provider.json; keyed `provider/tool` in the registry. */
export interface BuiltinToolImpl {
  /**
   * Checks beyond the declared types (a time zone name, ...): field -> messages, or null.
   * Runs when the tool is resolved, so a bad binding is a validate_error, not a failed call.
   */
  checkParams?(params: Record<string, unknown>): Record<string, string[]> | null;
  run(ctx: BuiltinCallContext): Promise<unknown>;
}
