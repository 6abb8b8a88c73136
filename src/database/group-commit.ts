import type { mongo } from 'mongoose';
import { insertEach, throwRefusal, type InsertOutcome } from './duplicate-key';

/** Documents written by one grouped command at most, however many callers write at once. */
export const DOCUMENTS_PER_COMMAND = 500;

/** A caller's items and how to hand it their results, or tell it that the write carrying them failed. */
interface Waiting<T, R> {
  items: readonly T[];
  resolve: (results: R[]) => void;
  reject: (error: unknown) => void;
}

/**
 * Joins concurrent writes into one command. A call made while no write is in flight is written at
 * once; calls made while one is in flight wait for it and then go together, at most `maxItems` items
 * a command (a call is never split). The write answers each item; each call settles with its own
 * items' results when the command carrying them ends, so a caller still knows its documents are
 * durable when it goes on; a failed command fails exactly the calls it carried. Under load a
 * transfer's writes to a collection then cost a fraction of a round trip each, and no call waits for
 * a timer. The queue holds one call per caller awaiting it, so the callers' own limits (the worker's
 * slots, the consumers' prefetch) bound it.
 */
export class GroupCommit<T, R> {
  private readonly waiting: Waiting<T, R>[] = [];
  private writing = false;

  constructor(
    private readonly write: (items: T[]) => Promise<readonly R[]>,
    private readonly maxItems: number,
  ) {
    if (!Number.isSafeInteger(maxItems) || maxItems < 1) throw new Error(`a group commit needs a positive item limit, not ${maxItems}`);
  }

  add(items: readonly T[]): Promise<R[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<R[]>((resolve, reject) => {
      this.waiting.push({ items, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.waiting.length > 0) {
      const group = this.nextGroup();
      const items = group.flatMap((call) => call.items);
      try {
        const results = await this.write(items);
        if (results.length !== items.length) throw new Error(`a grouped write answered ${results.length} of ${items.length} items`);
        let from = 0;
        for (const call of group) {
          call.resolve(results.slice(from, from + call.items.length));
          from += call.items.length;
        }
      } catch (error) {
        for (const call of group) call.reject(error);
      }
    }
    this.writing = false;
  }

  /** The oldest waiting calls whose items fit one command; the oldest alone when it does not fit. */
  private nextGroup(): Waiting<T, R>[] {
    let count = this.waiting[0].items.length;
    let taken = 1;
    while (taken < this.waiting.length && count + this.waiting[taken].items.length <= this.maxItems) {
      count += this.waiting[taken].items.length;
      taken++;
    }
    return this.waiting.splice(0, taken);
  }
}

/**
 * Inserts into one collection of documents keyed by a unique `_id`, through a group commit: each
 * document is its own claim on its keys (an unordered insert answers each one), so concurrent
 * callers' documents can share a command without one caller's refusal failing another's.
 */
export class GroupedInserts<T extends mongo.Document & { _id: string }> {
  private readonly commits: GroupCommit<T, InsertOutcome>;

  constructor(collection: mongo.Collection<T>, maxPerCommand = DOCUMENTS_PER_COMMAND) {
    this.commits = new GroupCommit((documents) => insertEach(collection, documents as mongo.OptionalUnlessRequiredId<T>[]), maxPerCommand);
  }

  /** Inserts the document unless a unique index holds one of its keys already; whether it did. */
  async insertOnce(document: T): Promise<boolean> {
    const outcomes = await this.commits.add([document]);
    throwRefusal(outcomes);
    return outcomes[0] as boolean;
  }

  /** Inserts the documents whose keys are free; a document whose key is held stays as it is. */
  async insertAbsent(documents: readonly T[]): Promise<void> {
    throwRefusal(await this.commits.add(documents));
  }
}
