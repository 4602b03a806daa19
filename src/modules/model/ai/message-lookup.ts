/**
 * How the AI helpers read a chat message without depending on the chat module (which depends on
 * this one): the chat module provides this token. Until it does, only inline query/answer work.
 */
export const MESSAGE_LOOKUP = Symbol('MESSAGE_LOOKUP');

export interface MessageLookup {
  /** The exchange of a message owned by the account, or null when absent or not theirs. */
  exchange(accountId: string, messageId: string): Promise<{ query: string; answer: string } | null>;
}
