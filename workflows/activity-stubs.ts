import { ActivityFailure, ApplicationFailure, proxyActivities, proxyLocalActivities, type RetryPolicy } from '@temporalio/workflow';
import type { RecordedTransaction, TransactionActivities, TransactionOpening, WalletActivities } from '../activities';
import {
  BUSINESS_FAILURE_TYPES,
  LEDGER_INVARIANT_FAILURE_TYPE,
  LEG_VOIDED_FAILURE_TYPE,
  type AppliedLeg,
  type LegChange,
  type TransactionFinalized,
} from '../src/domain';

// How the transaction workflow calls its activities, with their timeouts and retry policies.

const NOT_RETRYABLE = [...Object.values(BUSINESS_FAILURE_TYPES), LEG_VOIDED_FAILURE_TYPE, LEDGER_INVARIANT_FAILURE_TYPE];

// Infrastructure failures (database or broker down) are retried with backoff for as long as the
// schedule-to-close bound allows; business refusals and ledger invariant violations are not.
const INFRASTRUCTURE_RETRY: RetryPolicy = {
  initialInterval: '200ms',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: Number.POSITIVE_INFINITY,
  nonRetryableErrorTypes: NOT_RETRYABLE,
};

/** How long a step retries by itself when the execution does not say (those started before it could). */
const DEFAULT_STEP_TIMEOUT_MS = 7 * 24 * 60 * 60 * 1000;
/**
 * A local activity's share of a step: at most a minute and LOCAL_ATTEMPTS tries (about 40 s of
 * backoff); a fault that lasts longer hands the step over to a regular activity. The tries bound it
 * too: a local activity retried inside its workflow task was seen to outlive its schedule-to-close.
 */
const LOCAL_ATTEMPT_MS = 60_000;
const LOCAL_ATTEMPTS = 12;

/** The activities of a step, regular and local, within a step's bound. */
function stepProxies(stepTimeoutMs: number) {
  const regular = proxyActivities<WalletActivities>({
    startToCloseTimeout: '15s',
    scheduleToCloseTimeout: stepTimeoutMs,
    retry: INFRASTRUCTURE_RETRY,
  });
  // First try: a local activity, run by the worker inside the workflow task, which saves the server
  // two round trips per step. A fault that lasts longer than its share hands the step over to a
  // regular activity, which the Temporal UI shows as pending with its attempts and last failure.
  const local = proxyLocalActivities<WalletActivities>({
    startToCloseTimeout: '10s',
    scheduleToCloseTimeout: Math.min(LOCAL_ATTEMPT_MS, stepTimeoutMs),
    localRetryThreshold: '10 seconds',
    retry: { ...INFRASTRUCTURE_RETRY, maximumInterval: '5s', maximumAttempts: LOCAL_ATTEMPTS },
  });
  return { regular, local };
}

const legacySteps = stepProxies(DEFAULT_STEP_TIMEOUT_MS);

// Steps that read a transaction's entries by transactionId (a scan on FerretDB): rare, and slower.
function ledgerReaderWithin(stepTimeoutMs: number) {
  return proxyActivities<Pick<WalletActivities, 'reversalsOf' | 'adoptLedger'>>({
    startToCloseTimeout: '30s',
    scheduleToCloseTimeout: stepTimeoutMs,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: Number.POSITIVE_INFINITY },
  });
}

const legacyLedgerReader = ledgerReaderWithin(DEFAULT_STEP_TIMEOUT_MS);

/**
 * The steps of a transaction (see wallet-transaction/machine.ts), each tried locally first; a step that
 * has not succeeded within `stepTimeoutMs` fails, and the transaction waits for an operator.
 */
export function transactionStepsWithin(stepTimeoutMs = DEFAULT_STEP_TIMEOUT_MS): TransactionActivities {
  const proxies = stepProxies(stepTimeoutMs);
  const ledgerReader = ledgerReaderWithin(stepTimeoutMs);
  const localFirst = <T>(call: (activities: WalletActivities) => Promise<T>) => tryLocalFirst(proxies, call);
  return {
    openRecord: (opening) => localFirst((activities) => activities.openRecord(opening)),
    processStraightThrough: (opening) => localFirst((activities) => activities.processStraightThrough(opening)),
    adoptLedger: (terms) => ledgerReader.adoptLedger(terms),
    applyForwardLeg: (change) => localFirst((activities) => activities.applyForwardLeg(change)),
    recordDecision: (...args) => localFirst((activities) => activities.recordDecision(...args)),
    voidLeg: (change) => localFirst((activities) => activities.voidLeg(change)),
    undoLeg: (forward, undo) => localFirst((activities) => activities.undoLeg(forward, undo)),
    announceOutcome: (...args) => localFirst((activities) => activities.announceOutcome(...args)),
  };
}

// The steps of legacy executions (workflows/legacy/), unchanged.

/** What would undo every leg the ledger holds standing for a transaction, last applied first. */
export function reversalsOf(transactionId: string): Promise<LegChange[]> {
  return legacyLedgerReader.reversalsOf(transactionId);
}

export function openTransaction(opening: TransactionOpening): Promise<RecordedTransaction> {
  return localFirst((activities) => activities.openTransaction(opening));
}

export function applyLeg(change: LegChange): Promise<AppliedLeg> {
  return localFirst((activities) => activities.applyLeg(change));
}

export function publishFinalization(finalized: TransactionFinalized, legs: AppliedLeg[]): Promise<void> {
  return localFirst((activities) => activities.publishFinalization(finalized, legs));
}

function localFirst<T>(call: (activities: WalletActivities) => Promise<T>): Promise<T> {
  return tryLocalFirst(legacySteps, call);
}

/**
 * A refusal (legacy steps throw theirs) or a broken invariant is final; any other failure of the
 * local attempt goes to a regular activity. Chained rather than awaited: every promise made in the
 * sandbox costs a stack capture by the SDK's stack-trace hook.
 */
function tryLocalFirst<T>(
  { local, regular }: ReturnType<typeof stepProxies>,
  call: (activities: WalletActivities) => Promise<T>,
): Promise<T> {
  return call(local).catch((error: unknown) => {
    if (isFinal(error)) throw error;
    return call(regular);
  });
}

/** A refusal or a broken invariant: another attempt elsewhere would end the same way. */
function isFinal(error: unknown): boolean {
  return NOT_RETRYABLE.includes(applicationFailureOf(error)?.type ?? '');
}

/**
 * The failure an activity raised: a regular activity's comes as the cause of an ActivityFailure, a
 * local activity's as the ApplicationFailure itself.
 */
export function applicationFailureOf(error: unknown): ApplicationFailure | undefined {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof ApplicationFailure ? cause : undefined;
}

/** What went wrong in a step, for the operator who reads `attention`. */
export function messageOf(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}
