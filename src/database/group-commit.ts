/** A caller's items and how to tell it that the write carrying them ended. */
interface Waiting<T> {
  items: readonly T[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Joins concurrent writes of idempotent documents into one command. A call made while no write is
 * in flight is written at once; calls made while one is in flight wait for it and then go together,
 * at most `maxItems` items a command (a call is never split). Each call settles when the command
 * carrying its items does, so a caller still knows its documents are durable when it goes on; a
 * failed command fails exactly the calls it carried. Under load a transfer's writes to a collection
 * then cost a fraction of a round trip each, and no call waits for a timer. The queue holds one call
 * per caller awaiting it, so the callers' own limits (the worker's slots, the consumers' prefetch)
 * bound it.
 */
export class GroupCommit<T> {
  private readonly waiting: Waiting<T>[] = [];
  private writing = false;

  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly maxItems: number,
  ) {
    if (!Number.isSafeInteger(maxItems) || maxItems < 1) throw new Error(`a group commit needs a positive item limit, not ${maxItems}`);
  }

  add(items: readonly T[]): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ items, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.waiting.length > 0) {
      const group = this.nextGroup();
      try {
        await this.write(group.flatMap((call) => call.items));
        for (const call of group) call.resolve();
      } catch (error) {
        for (const call of group) call.reject(error);
      }
    }
    this.writing = false;
  }

  /** The oldest waiting calls whose items fit one command; the oldest alone when it does not fit. */
  private nextGroup(): Waiting<T>[] {
    let count = this.waiting[0].items.length;
    let taken = 1;
    while (taken < this.waiting.length && count + this.waiting[taken].items.length <= this.maxItems) {
      count += this.waiting[taken].items.length;
      taken++;
    }
    return this.waiting.splice(0, taken);
  }
}
