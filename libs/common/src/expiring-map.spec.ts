import { ExpiringMap } from './expiring-map';

describe('ExpiringMap', () => {
  afterEach(() => jest.useRealTimers());

  it('answers an entry until its TTL passes, and a shorter per-entry TTL wins', () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const map = new ExpiringMap<string, number>(10, 1000);
    map.set('a', 1);
    map.set('b', 2, 100);
    map.set('c', 3, 5000); // never longer than the map's TTL
    jest.advanceTimersByTime(500);
    expect([map.get('a'), map.get('b'), map.get('c')]).toEqual([1, undefined, 3]);
    jest.advanceTimersByTime(600);
    expect([map.get('a'), map.get('c')]).toEqual([undefined, undefined]);
    expect(map.size).toBe(0); // expired entries are dropped when read
  });

  it('starts afresh past its bound, and forgets on delete and clear', () => {
    const map = new ExpiringMap<number, number>(3, 60_000);
    for (let i = 0; i < 3; i++) map.set(i, i);
    map.set(3, 3);
    expect(map.size).toBe(1);
    expect(map.get(0)).toBeUndefined();
    expect(map.get(3)).toBe(3);
    map.delete(3);
    expect(map.get(3)).toBeUndefined();
    map.set(4, 4);
    map.clear();
    expect(map.size).toBe(0);
  });

  it('treats a non-positive TTL as already expired', () => {
    const map = new ExpiringMap<string, string>(10, 1000);
    map.set('gone', 'x', -5);
    expect(map.get('gone')).toBeUndefined();
  });
});
