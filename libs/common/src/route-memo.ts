import type { ExecutionContext } from '@nestjs/common';

/**
 * What `compute` derives from a route's handler and controller class (its decorators' metadata),
 * computed on the route's first request and kept for the process's life. Guards and interceptors
 * run on every request; their metadata never changes after boot, and each `Reflector` lookup
 * walks the handler's and the class's metadata maps. Keyed by handler, then class (a handler a
 * controller inherits serves two classes).
 */
type Handler = ReturnType<ExecutionContext['getHandler']>;
type Controller = ReturnType<ExecutionContext['getClass']>;

export function routeMemo<T>(
  compute: (handler: Handler, cls: Controller) => T,
): (context: ExecutionContext) => T {
  const byHandler = new WeakMap<object, WeakMap<object, { value: T }>>();
  return (context) => {
    const handler = context.getHandler();
    const cls = context.getClass();
    let byClass = byHandler.get(handler);
    if (byClass === undefined) {
      byClass = new WeakMap();
      byHandler.set(handler, byClass);
    }
    let entry = byClass.get(cls);
    if (entry === undefined) {
      entry = { value: compute(handler, cls) };
      byClass.set(cls, entry);
    }
    return entry.value;
  };
}
