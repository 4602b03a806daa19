import type { Redis } from 'ioredis';
import { cookieValue, QueueBoardTickets } from './queue-board.tickets';

describe('cookieValue', () => {
  it('finds one cookie among several, by exact name', () => {
    const header = 'a=1; llmops_queue_board_x=no; llmops_queue_board=tok.en-1; b=2';
    expect(cookieValue(header, 'llmops_queue_board')).toBe('tok.en-1');
  });
  it('answers undefined when absent or empty', () => {
    expect(cookieValue(undefined, 'x')).toBeUndefined();
    expect(cookieValue('y=1', 'x')).toBeUndefined();
    expect(cookieValue('x=', 'x')).toBeUndefined();
  });
});

describe('QueueBoardTickets', () => {
  const store = new Map<string, string>();
  const redis = {
    set: jest.fn(async (k: string, v: string) => void store.set(k, v)),
    getdel: jest.fn(async (k: string) => {
      const v = store.get(k) ?? null;
      store.delete(k);
      return v;
    }),
  } as unknown as Redis;
  const tickets = new QueueBoardTickets(redis, 'p');

  it('redeems a ticket once, under the prefix, with a 60 s expiry', async () => {
    const t = await tickets.issue('token-1');
    expect(t).toMatch(/^[\w-]{43}$/);
    expect(redis.set).toHaveBeenCalledWith(`p:queue-board:ticket:${t}`, 'token-1', 'PX', 60_000);
    expect(await tickets.redeem(t)).toBe('token-1');
    expect(await tickets.redeem(t)).toBeNull();
  });

  it('does not ask Redis about malformed tickets', async () => {
    (redis.getdel as jest.Mock).mockClear();
    expect(await tickets.redeem('short')).toBeNull();
    expect(await tickets.redeem('*'.repeat(43))).toBeNull();
    expect(redis.getdel).not.toHaveBeenCalled();
  });
});
