import type { ExecutionContext } from '@nestjs/common';
import { routeMemo } from './route-memo';

const contextOf = (handler: () => unknown, cls: new () => unknown) =>
  ({ getHandler: () => handler, getClass: () => cls }) as unknown as ExecutionContext;

describe('routeMemo', () => {
  class Base {
    shared() {}
    own() {}
  }
  class Derived extends Base {}

  it('computes once per handler and class, and keeps apart a handler two classes serve', () => {
    const compute = jest.fn((handler: { name: string }, cls: { name: string }) => {
      return `${cls.name}.${handler.name}`;
    });
    const memo = routeMemo(compute);
    const proto = Base.prototype;
    expect(memo(contextOf(proto.shared, Base))).toBe('Base.shared');
    expect(memo(contextOf(proto.shared, Base))).toBe('Base.shared');
    expect(memo(contextOf(proto.shared, Derived))).toBe('Derived.shared');
    expect(memo(contextOf(proto.own, Base))).toBe('Base.own');
    expect(memo(contextOf(proto.own, Derived))).toBe('Derived.own');
    expect(memo(contextOf(proto.shared, Derived))).toBe('Derived.shared');
    expect(compute).toHaveBeenCalledTimes(4);
  });

  it('keeps falsy results (null, false) rather than computing them again', () => {
    const compute = jest.fn(() => null);
    const memo = routeMemo(compute);
    for (let i = 0; i < 3; i++) expect(memo(contextOf(Base.prototype.own, Base))).toBeNull();
    expect(compute).toHaveBeenCalledTimes(1);
  });
});
