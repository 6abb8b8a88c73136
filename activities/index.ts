import { ApplicationFailure, Context } from '@temporalio/activity';
import { LEDGER_INVARIANT_FAILURE_TYPE, type ReconciliationReport, type WalletActivities } from '../workflows/contract';
import type { Announcer } from '../src/finalization/announcer';
import { BusinessRuleError, LedgerInvariantError } from '../src/ledger/errors';
import type { Ledger } from '../src/ledger/ledger';
import type { TransactionRecords } from '../src/transaction-record/transaction-records';

// The activities the workflows call (see WalletActivities in the contract): each hands its step to
// the module that owns it, and turns that module's failures into what the workflow branches on.

export interface ActivityDependencies {
  ledger: Pick<Ledger, 'applyLeg' | 'reversalsOf'>;
  records: Pick<TransactionRecords, 'open'>;
  announcer: Pick<Announcer, 'announce'>;
  /** Reconciles the ledger, reporting progress through `heartbeat` and stopping when `signal` aborts. */
  reconcile: (pass: { heartbeat: (progress: unknown) => void; signal: AbortSignal }) => Promise<ReconciliationReport>;
}

export function createActivities({ ledger, records, announcer, reconcile }: ActivityDependencies): WalletActivities {
  return {
    openTransaction: (opening) => records.open(opening),
    async applyLeg(change) {
      try {
        return await ledger.applyLeg(change, Context.current().cancellationSignal);
      } catch (error) {
        throw asActivityFailure(error);
      }
    },
    publishFinalization: (finalized, legs = []) => announcer.announce(finalized, legs, Context.current()),
    reversalsOf: (transactionId) => ledger.reversalsOf(transactionId),
    reconcileLedger: () => {
      const context = Context.current();
      return reconcile({ heartbeat: (progress) => context.heartbeat(progress), signal: context.cancellationSignal });
    },
  };
}

/**
 * Business refusals and ledger invariant violations become non-retryable failures the workflow
 * branches on; anything else (a database or broker fault) stays retryable.
 */
function asActivityFailure(error: unknown): unknown {
  if (error instanceof BusinessRuleError) {
    return ApplicationFailure.create({ type: error.failureType, message: error.message, nonRetryable: true });
  }
  if (error instanceof LedgerInvariantError) {
    return ApplicationFailure.create({ type: LEDGER_INVARIANT_FAILURE_TYPE, message: error.message, nonRetryable: true });
  }
  return error;
}
