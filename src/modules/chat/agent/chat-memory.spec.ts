import { fitRounds, messageTokens, promptBudget } from './chat-memory';

describe('chat memory', () => {
  const round = (n: number, words: number) => ({
    query: `question ${n}`,
    answer: Array.from({ length: words }, () => 'word').join(' '),
  });

  it('counts with the shipped tokenizer plus a per-message overhead', () => {
    expect(messageTokens('hello world')).toBe(2 + 4);
    expect(messageTokens('')).toBe(4);
  });

  it('keeps the newest whole rounds that fit, oldest first', () => {
    const rounds = [round(1, 10), round(2, 10), round(3, 10)];
    const cost = messageTokens(rounds[0].query) + messageTokens(rounds[0].answer);
    expect(fitRounds(rounds, cost * 3)).toEqual(rounds);
    expect(fitRounds(rounds, cost * 2 + 1)).toEqual(rounds.slice(1));
    expect(fitRounds(rounds, cost - 1)).toEqual([]);
  });

  it('stops at the first round that does not fit (no gaps in the history)', () => {
    const rounds = [round(1, 1), round(2, 500), round(3, 1)];
    const small = messageTokens(rounds[2].query) + messageTokens(rounds[2].answer);
    expect(fitRounds(rounds, small * 3)).toEqual([rounds[2]]);
  });

  it('leaves room for the answer and a margin', () => {
    expect(promptBudget(8192, 1000)).toBe(8192 - 1000 - 409);
    // A max_tokens as large as the window leaves at most half of it for the answer.
    expect(promptBudget(8192, 8192)).toBe(8192 - 4096 - 409);
    expect(promptBudget(0, 1000)).toBe(Number.POSITIVE_INFINITY);
  });
});
