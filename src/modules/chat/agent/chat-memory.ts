import { countTokens } from 'src/modules/dataset/indexing/token-counter';

/** One earlier exchange of the conversation. */
export interface Round {
  query: string;
  answer: string;
}

/** Chat formats add a few tokens per message (role, separators): counted, roughly, as OpenAI's. */
const PER_MESSAGE_TOKENS = 4;

/**
 * Tokens of a text with the cl100k_base tokenizer shipped in js-tiktoken (nothing is fetched).
 * Other providers tokenize differently; this is an estimate good enough to keep a prompt
 * inside a context window with the margin the caller leaves.
 */
export function messageTokens(text: string): number {
  return countTokens(text) + PER_MESSAGE_TOKENS;
}

/**
 * Short-term memory: of the last rounds (oldest first), the newest ones that fit in `budget`
 * tokens, kept whole (a round is a question and its answer; half a round would confuse the model).
 */
export function fitRounds(rounds: Round[], budget: number): Round[] {
  const kept: Round[] = [];
  let used = 0;
  for (let i = rounds.length - 1; i >= 0; i--) {
    const cost = messageTokens(rounds[i].query) + messageTokens(rounds[i].answer);
    if (used + cost > budget) break;
    used += cost;
    kept.unshift(rounds[i]);
  }
  return kept;
}

/** What a model leaves for its prompt: the context window less the answer's room and a margin. */
export function promptBudget(contextWindow: number, maxOutputTokens: number): number {
  if (contextWindow <= 0) return Number.POSITIVE_INFINITY; // unknown window: only dialog_round bounds
  const margin = Math.max(64, Math.floor(contextWindow * 0.05));
  return Math.max(0, contextWindow - Math.min(maxOutputTokens, contextWindow / 2) - margin);
}
