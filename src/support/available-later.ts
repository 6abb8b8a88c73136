/**
 * An object whose methods work once `get` returns the one to call, and throw `unavailable()` until
 * then: the HTTP server and the live updates are built before the database is reached, so that the
 * service answers (503) while it waits for it.
 */
export function availableLater<T extends object>(get: () => T | undefined, unavailable: () => Error): T {
  return new Proxy({} as T, {
    get: (_, method) => {
      return (...args: unknown[]) => {
        const target = get();
        if (!target) throw unavailable();
        return (Reflect.get(target, method) as (...args: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
