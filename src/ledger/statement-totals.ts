import { LedgerInvariantError } from './errors';
import type { ChainLink } from './ledger-chain';

export interface StatementTotals {
  /** Sum of the positive amounts. */
  credits: number;
  /** Sum of the negative amounts (itself negative), so that opening + credits + debits = closing. */
  debits: number;
  entries: number;
}

/**
 * Adds up a statement as its entries are written and checks, at every entry, that the opening
 * balance plus what was added so far is the balance the entry records: a statement whose totals do
 * not explain its closing balance is never finished.
 */
export class StatementTally {
  private credits = 0;
  private debits = 0;
  private entries = 0;
  private balance: number;

  constructor(
    private readonly userId: string,
    readonly openingBalance: number,
  ) {
    this.balance = openingBalance;
  }

  add(entry: ChainLink): void {
    if (entry.amount > 0) this.credits += entry.amount;
    else this.debits += entry.amount;
    this.entries++;
    this.balance = this.openingBalance + this.credits + this.debits;
    if (!Number.isSafeInteger(this.balance) || this.balance !== entry.balanceAfter) {
      throw new LedgerInvariantError(
        `statement of user ${this.userId}: opening ${this.openingBalance} + credits ${this.credits} + debits ${this.debits} ` +
          `is ${this.balance}, but version ${entry.version} records ${entry.balanceAfter}`,
      );
    }
  }

  /** The totals, once the closing balance is known to be what they add up to. */
  close(closingBalance: number): StatementTotals {
    if (this.openingBalance + this.credits + this.debits !== closingBalance) {
      throw new LedgerInvariantError(
        `statement of user ${this.userId}: opening ${this.openingBalance} + credits ${this.credits} + debits ${this.debits} ≠ closing ${closingBalance}`,
      );
    }
    return { credits: this.credits, debits: this.debits, entries: this.entries };
  }
}
