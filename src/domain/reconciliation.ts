import type { Leg } from './legs';
import type { RecordStatus, TransactionType } from './transactions';

// What the reconciliation and the chain verification report.

export interface WalletDrift {
  userId: string;
  problem: string;
}

/** A wallet whose hash chain breaks, at the first entry whose fields or links do not match. */
export interface ChainBreak {
  userId: string;
  version: number;
  problem: string;
}

/** One slice of a verification of the ledger's chains (see src/reconciliation/chain-verification.ts). */
export interface VerificationSlice {
  wallets: number;
  entries: number;
  broken: ChainBreak[];
  /** The last wallet verified (its wallet id): the next slice starts after it; null once every wallet is. */
  next: string | null;
}

/** A leg as it stands in the ledger. */
export interface StandingLeg {
  leg: Leg;
  userId: string;
  amount: number;
  version: number;
}

/** A transaction the reconciliation reports: its record's status and what stands of it in the ledger. */
export interface ReportedTransaction {
  transactionId: string;
  type: TransactionType | null;
  /** `Unrecorded`: legs applied before records were kept, and no record since. */
  status: RecordStatus | 'Unrecorded';
  openedAt: string | null;
  standing: StandingLeg[];
}

export interface ReconciliationReport {
  /** The pass's number: each pass checks what changed since the one before. */
  pass: number;
  /** `full` walks every wallet from its first entry (the first pass, or on demand); `incremental` what changed. */
  mode: 'full' | 'incremental';
  checkedAt: string;
  /** Wallets walked by this pass, and the entries it verified. */
  wallets: number;
  entries: number;
  /** Transactions looked at: those opened or rolled back since the reconciliation last saw them settled. */
  transactions: number;
  /** Sum of every wallet's balance at its checkpoint. */
  totalBalance: number;
  /** Money the platform brought in: opening balances and top-ups, net of their reversals. */
  toppedUp: number;
  /**
   * What transfers still moving add to the balances counted (one leg counted, its pair not yet):
   * the balances equal toppedUp plus this.
   */
  inFlight: number;
  /** Whether the balances equal the money brought in plus what is in flight; null when not judged (`truncated`). */
  conserved: boolean | null;
  /** Final transactions whose standing legs do not match their status (money created or destroyed). */
  unbalanced: ReportedTransaction[];
  /**
   * Transactions not final, or final and not yet undone, longer than the bound after they opened or
   * were decided: an execution terminated or deleted, or one waiting for an operator.
   */
  stalled: ReportedTransaction[];
  /** Wallets whose ledger or document is wrong, with the first problem found (an entry changed names its version). */
  drift: WalletDrift[];
  /** Wallet documents found behind a sound ledger (a crash or a race between writers), rolled forward. */
  repaired: string[];
  /** More to report or check than one pass holds: the rest is in the next pass. */
  truncated: boolean;
  ok: boolean;
}
