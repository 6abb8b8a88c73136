import type { Connection, mongo } from 'mongoose';
import { createCollection } from './connection';
import { GroupedInserts } from './group-commit';

interface Mark {
  _id: string;
  at: Date;
}

/** Marks removed in one request. */
const UNMARK_BATCH = 1_000;
/** Marks put by one request at most, however many callers mark at once. */
const MARK_BATCH = 1_000;

/**
 * A set of ids kept in its own collection, one document per id: marking is an insert (idempotent,
 * atomic on FerretDB as on MongoDB), and the set stays as small as what is marked, so listing it is
 * cheap even where a query scans the collection.
 */
export class MarkSet {
  private readonly marks: mongo.Collection<Mark>;
  /** Marks put while another request is in flight go together in the next one. */
  private readonly marking: GroupedInserts<Mark>;

  constructor(
    private readonly connection: Connection,
    private readonly name: string,
  ) {
    this.marks = connection.collection<Mark>(name);
    this.marking = new GroupedInserts(this.marks, MARK_BATCH);
  }

  ensureCollection(): Promise<void> {
    return createCollection(this.connection, this.name);
  }

  /** Marks the ids, durably when it resolves; an id marked already keeps its first mark's time. */
  mark(ids: readonly string[]): Promise<void> {
    const at = new Date();
    return this.marking.insertAbsent(ids.map((_id) => ({ _id, at })));
  }

  /** Marked ids in order, after `after`, at most `limit`. */
  async list(after: string | null, limit: number): Promise<string[]> {
    const marks = await this.marks
      .find(after === null ? {} : { _id: { $gt: after } }, { projection: { _id: 1 } })
      .sort({ _id: 1 })
      .limit(limit)
      .toArray();
    return marks.map((mark) => mark._id);
  }

  /** When the longest-standing mark was put; null when nothing is marked. */
  async oldestMarkedAt(): Promise<Date | null> {
    const [oldest] = await this.marks
      .find({}, { projection: { at: 1 } })
      .sort({ at: 1 })
      .limit(1)
      .toArray();
    return oldest?.at ?? null;
  }

  async unmark(ids: readonly string[]): Promise<void> {
    for (let from = 0; from < ids.length; from += UNMARK_BATCH) {
      await this.marks.deleteMany({ _id: { $in: ids.slice(from, from + UNMARK_BATCH) } });
    }
  }
}
