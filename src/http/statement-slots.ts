import { HttpError } from './errors';

/**
 * Statements stream for minutes. Past the process's total a new one is 503, so reads cannot crowd out
 * the ledger's writes; past a user's own share it is 503 too, so one user's slow downloads cannot
 * hold every slot and refuse everybody else's.
 */
export class StatementSlots {
  private taken = 0;
  private readonly takenBy = new Map<string, number>();

  constructor(private readonly limits: { total: number; perUser: number }) {}

  /** Takes a slot for `userId`; the function returned gives it back (once, however often called). */
  take(userId: string): () => void {
    const ofUser = this.takenBy.get(userId) ?? 0;
    if (ofUser >= this.limits.perUser) {
      throw new HttpError(503, `You already have ${ofUser} statements being prepared; retry once one has finished`);
    }
    if (this.taken >= this.limits.total) throw new HttpError(503, 'Too many statements are being prepared; retry shortly');
    this.taken++;
    this.takenBy.set(userId, ofUser + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.taken--;
      const left = this.takenBy.get(userId)! - 1;
      if (left === 0) this.takenBy.delete(userId);
      else this.takenBy.set(userId, left);
    };
  }
}
