// The wallet's vocabulary, shared by the workflows (bundled into Temporal's deterministic sandbox)
// and the services around them: the platform's events and the announcement, the transaction
// record's decisions, legs, failures, ids and the reconciliation's reports. Plain types and pure
// functions: this file imports nothing.

// ---- transactions: the events, the announcement, the transaction record's decisions --------------

export const TRANSACTION_TYPES = ['TopUp', 'Transfer'] as const;
export type TransactionType = (typeof TRANSACTION_TYPES)[number];

/** `transaction.completed` for a top-up: money enters the platform. */
export interface TopUpCompleted {
  transactionId: string;
  type: 'TopUp';
  userId: string;
  amount: number;
}

/** `transaction.completed` for a transfer between two wallets. */
export interface TransferCompleted {
  transactionId: string;
  type: 'Transfer';
  fromUserId: string;
  toUserId: string;
  amount: number;
}

export type TransactionCompleted = TopUpCompleted | TransferCompleted;

/** The wallets a completed transaction touches. */
export function partiesOf(event: TransactionCompleted): string[] {
  return event.type === 'TopUp' ? [event.userId] : [event.fromUserId, event.toUserId];
}

/** `transaction.failed`: the platform abandoned the transaction; undo whatever the wallet applied. */
export interface TransactionFailed {
  transactionId: string;
  /** Null when the platform's copy carries none the wallet knows: the rollback needs only the id. */
  type: TransactionType | null;
  reason: string;
}

/**
 * A `transaction.completed` the wallet refused to apply (a bad amount, a transfer to oneself, an
 * unknown type...) although it names a valid transactionId: the transaction still gets a final
 * status, `Failed` with this reason, so that the platform does not show it pending for ever.
 */
export interface TransactionRejected {
  transactionId: string;
  reason: string;
}

export type FinalStatus = 'Completed' | 'Failed';

/** `wallet.transactionFinalized`, the wallet's announcement of a transaction's outcome. */
export interface TransactionFinalized {
  transactionId: string;
  status: FinalStatus;
  reason?: string;
}

/** Where a transaction stands in its durable transaction record: its latest decision, or none yet. */
export type RecordStatus = 'Pending' | FinalStatus;

/**
 * What a transaction's record is opened with, by whichever run opens it first: the transaction's
 * terms (from its `transaction.completed`), or, when its first event was a `transaction.failed` or
 * a rejected copy, no terms and the reason it fails. Runs that come later follow what was recorded.
 */
export interface RecordOpening {
  transactionId: string;
  type: TransactionType | null;
  terms: TransactionCompleted | null;
  reason: string | null;
}

/**
 * Where a transaction's record stands a decision is recorded at: `first` (Completed, or Failed
 * before it completed) and `rollback` (the Failed of a Completed transaction that
 * `transaction.failed` rolled back). Each position is decided once, by a unique key.
 */
export type DecisionPosition = 'first' | 'rollback';

export interface CompletedDecision {
  status: 'Completed';
}

/** A Failed decision names the undo leg that every run undoing a forward leg of it writes. */
export interface FailedDecision {
  status: 'Failed';
  reason: string;
  undo: UndoLeg;
}

export type TransactionDecision = CompletedDecision | FailedDecision;

/**
 * A rollback moves money back, and announces its Failed, no earlier than `reverseAfter`: by then
 * a process that was about to announce the Completed it rolls back has done so, or, frozen, has had
 * its broker connection closed (see the finalization publisher). So that Completed is never
 * announced over reversed legs, nor after the Failed.
 */
export interface RollbackDecision extends FailedDecision {
  reverseAfter: string;
}

/** The transaction record as a run reads it. */
export interface TransactionRecordView {
  /** The terms the record was opened with; null when its first event was not a `transaction.completed`. */
  terms: TransactionCompleted | null;
  /** Why a transaction opened without terms fails (null on records opened before it was kept). */
  openingReason: string | null;
  first: TransactionDecision | null;
  rollback: RollbackDecision | null;
}

/** Announced (now or by an earlier attempt), or not announced because another decision superseded it. */
export type AnnounceOutcome = { kind: 'announced' } | { kind: 'superseded' };

/** The events of a transaction, as the record judges them. */
export type TransactionEventKind = 'completed' | 'failed' | 'rejected';

/**
 * Whether an event can still change a transaction whose record stands at `status`: a final
 * transaction is final for good, but one that ended `Completed` can still be rolled back by
 * `transaction.failed`.
 */
export function eventCanChange(event: TransactionEventKind, status: RecordStatus | undefined): boolean {
  if (status === undefined || status === 'Pending') return true;
  return event === 'failed' && status === 'Completed';
}

/**
 * A leg is one balance change of one wallet within a transaction:
 * - debit / credit: the forward legs of a top-up (credit) or transfer (debit sender, credit recipient);
 * - compensation: the saga's undo of a forward leg when a later leg failed for a business reason;
 * - reversal: the undo of a forward leg because the platform sent `transaction.failed`;
 * - opening: a wallet's configured initial balance.
 */
export const LEGS = ['opening', 'debit', 'credit', 'compensation', 'reversal'] as const;
export type Leg = (typeof LEGS)[number];
export type ForwardLeg = 'debit' | 'credit';
export type UndoLeg = 'compensation' | 'reversal';

/** A balance change the ledger is asked to apply, exactly once per (transactionId, userId, leg). */
export interface LegChange {
  transactionId: string;
  transactionType: TransactionType;
  leg: Exclude<Leg, 'opening'>;
  userId: string;
  /** Signed amount in minor units: negative takes money out of the wallet. */
  amount: number;
  counterpartyUserId?: string;
}

/** What the ledger recorded for a leg: the entry's amount, resulting balance and wallet version. */
export interface AppliedLeg {
  transactionId: string;
  leg: Exclude<Leg, 'opening'>;
  userId: string;
  amount: number;
  balanceAfter: number;
  version: number;
}

/** What applying a leg found: the entry (written now or before), or a business refusal. */
export type LegOutcome =
  /**
   * `undone`: a forward leg found applied whose undo stands already, with no decision on its record
   * (a run of the release before decisions were recorded first undid it, and stopped before recording
   * why). Like a leg that predates its record, the run must then follow what its ledger shows.
   * Absent from the histories of releases before it.
   */
  { kind: 'applied'; leg: AppliedLeg; predatesRecord: boolean; undone?: boolean } | { kind: 'refused'; refusal: BusinessFailureType };
/** What applying a forward leg found: as LegOutcome, or the leg voided by a Failed decision. */
export type ForwardLegOutcome = LegOutcome | { kind: 'voided' };
/** What voiding a forward leg found: it is void for good, or it stands in the ledger (and must be undone). */
export type VoidOutcome = { kind: 'voided' } | { kind: 'standing' };

/** A debit or a credit of the transaction's terms. */
export type ForwardLegChange = LegChange & { leg: ForwardLeg };

/** The forward legs of a transaction's terms, in the order they are applied: a transfer debits, then credits. */
export function forwardLegsOf(terms: TransactionCompleted): ForwardLegChange[] {
  const { transactionId, type } = terms;
  if (terms.type === 'TopUp') return [{ transactionId, transactionType: type, leg: 'credit', userId: terms.userId, amount: terms.amount }];
  const { fromUserId, toUserId, amount } = terms;
  return [
    { transactionId, transactionType: type, leg: 'debit', userId: fromUserId, amount: -amount, counterpartyUserId: toUserId },
    { transactionId, transactionType: type, leg: 'credit', userId: toUserId, amount, counterpartyUserId: fromUserId },
  ];
}

/**
 * What a transaction's straight-through processing found: the record as opened, the forward legs
 * tried (in order), and the Completed's announcement, made only once every leg was simply applied.
 */
export interface StraightThroughOutcome {
  record: TransactionRecordView;
  legs: ForwardLegOutcome[];
  announced: AnnounceOutcome | null;
}

/** The steps straight-through processing is made of, each an atomic claim or read, as a run takes them one at a time. */
export interface StraightThroughSteps {
  open(opening: RecordOpening): Promise<TransactionRecordView>;
  apply(change: ForwardLegChange): Promise<ForwardLegOutcome>;
  announceCompleted(legs: AppliedLeg[]): Promise<AnnounceOutcome>;
}

/**
 * Opens the record and, while each answer is the one that leads to Completed, applies the forward
 * legs of the recorded terms in order, then announces Completed: the steps a run of a new
 * transaction takes one after the other, here with no event between them (an order a run can
 * already meet). It stops at the first other answer (a decision standing, no terms, a leg refused,
 * voided or older than the record), which the run then follows as it would have.
 */
export async function processStraightThrough(opening: RecordOpening, steps: StraightThroughSteps): Promise<StraightThroughOutcome> {
  const record = await steps.open(opening);
  const outcome: StraightThroughOutcome = { record, legs: [], announced: null };
  if (!record.terms || record.first || record.rollback) return outcome;
  const applied: AppliedLeg[] = [];
  for (const change of forwardLegsOf(record.terms)) {
    const found = await steps.apply(change);
    outcome.legs.push(found);
    if (found.kind !== 'applied' || found.predatesRecord || found.undone) return outcome;
    applied.push(found.leg);
  }
  outcome.announced = await steps.announceCompleted(applied);
  return outcome;
}

/** Reasons the wallet gives in `wallet.transactionFinalized` for its own business failures. */
export const FAILURE_REASONS = {
  insufficientBalance: 'Insufficient balance',
  walletNotFound: 'Wallet not found',
  senderWalletNotFound: 'Sender wallet not found',
  recipientWalletNotFound: 'Recipient wallet not found',
  balanceLimitExceeded: 'Balance limit exceeded',
  transactionFailed: 'Transaction failed',
} as const;

/** The reason a `Failed` announcement carries: never empty (the platform requeues such a message for ever). */
export function failureReason(reason: string | null | undefined): string {
  const trimmed = reason?.trim();
  return trimmed ? trimmed : FAILURE_REASONS.transactionFailed;
}

/** The reason announced for a rejected `transaction.completed`: what was wrong with it. */
export function rejectionReason(problem: string): string {
  return `Rejected by the wallet: ${problem}`;
}

/** Error types shared by activities (which throw them) and workflows (which branch on them). */
export const BUSINESS_FAILURE_TYPES = {
  insufficientBalance: 'InsufficientBalance',
  walletNotFound: 'WalletNotFound',
  balanceLimitExceeded: 'BalanceLimitExceeded',
} as const;
export type BusinessFailureType = (typeof BUSINESS_FAILURE_TYPES)[keyof typeof BUSINESS_FAILURE_TYPES];

/** A forward leg that a Failed decision voided: it can never be applied (legacy executions only see it). */
export const LEG_VOIDED_FAILURE_TYPE = 'LegVoided';
/** A ledger invariant broke: never retried automatically, the workflow waits for an operator. */
export const LEDGER_INVARIANT_FAILURE_TYPE = 'LedgerInvariantViolation';
/** The reconciliation found drift: its execution fails with the report in its details. */
export const LEDGER_DRIFT_FAILURE_TYPE = 'LedgerDrift';

// ---- ids: every id the platform exchanges (users, transactions) is an ObjectId in 24 hex digits ----

/** A 24-hex-digit ObjectId, in either case, as the platform's services write them. */
export const OBJECT_ID_HEX = /^[0-9a-fA-F]{24}$/;

/** The id in the form the wallet keys by (lower case), or undefined when it is not a 24-hex-digit ObjectId. */
export function canonicalObjectId(value: unknown): string | undefined {
  return typeof value === 'string' && OBJECT_ID_HEX.test(value) ? value.toLowerCase() : undefined;
}

/** When an ObjectId was made (its first four bytes are seconds since the epoch), in milliseconds. */
export function objectIdTimeMs(id: string): number | undefined {
  return OBJECT_ID_HEX.test(id) ? Number.parseInt(id.slice(0, 8), 16) * 1000 : undefined;
}

// ---- what the reconciliation and the chain verification report ----------------------------------

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
