/**
 * Runs tasks one at a time per key (and concurrently across keys). Used so that writers of the same
 * wallet in one process queue up instead of racing for the same version and retrying.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  /** A caller that gave up (its `signal` aborted) while it waited is not run; it gets the abort reason. */
  async run<T>(key: string, task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => current);
    this.tails.set(key, tail);
    await previous;
    try {
      signal?.throwIfAborted();
      return await task();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with a task running or waiting. */
  get size(): number {
    return this.tails.size;
  }
}
