import { onceUntilFailure } from './lazy-require';

describe('onceUntilFailure', () => {
  it('computes once and shares the answer, also between concurrent callers', async () => {
    let calls = 0;
    const get = onceUntilFailure(async () => ++calls);
    expect(await Promise.all([get(), get()])).toEqual([1, 1]);
    expect(await get()).toBe(1);
    expect(calls).toBe(1);
  });

  it('computes again after a rejection, and keeps the first success', async () => {
    let calls = 0;
    const get = onceUntilFailure(async () => {
      calls += 1;
      if (calls === 1) throw new Error('connection lost');
      return calls;
    });
    await expect(get()).rejects.toThrow('connection lost');
    expect(await get()).toBe(2);
    expect(await get()).toBe(2);
    expect(calls).toBe(2);
  });
});
