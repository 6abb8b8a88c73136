import { ApplicationFailure, Context } from '@temporalio/activity';
import { LEDGER_INVARIANT_FAILURE_TYPE, type AppliedLeg, type LegChange, type TransactionFinalized } from '../src/domain/transaction';
import { BusinessRuleError, LedgerInvariantError } from '../src/ledger/errors';
import type { Ledger } from '../src/ledger/ledger';
import type { FinalizationPublisher } from '../src/messaging/finalization-publisher';
import type { FinalizationLog } from '../src/persistence/finalization-log';
import type { ReconciliationReport } from '../src/ledger/reconciliation';

export interface WalletActivities {
  /** Applies one leg of a transaction to a wallet, exactly once. */
  applyLeg(change: LegChange): Promise<AppliedLeg>;
  /** Announces the transaction's outcome on `transaction.events`, confirmed by the broker. */
  publishFinalization(finalized: TransactionFinalized): Promise<void>;
  /** The reversals that would undo what a transaction still has standing, newest first. */
  reversalsOf(transactionId: string): Promise<LegChange[]>;
  /** Checks every wallet against its ledger and the platform's money against its top-ups. */
  reconcileLedger(): Promise<ReconciliationReport>;
}

export interface ActivityDependencies {
  ledger: Pick<Ledger, 'applyLeg' | 'reversalsOf'>;
  finalizations: Pick<FinalizationPublisher, 'publish'>;
  finalizationLog: Pick<FinalizationLog, 'wasConfirmedBefore' | 'recordConfirmed'>;
  reconcile: () => Promise<ReconciliationReport>;
}

export function createActivities({ ledger, finalizations, finalizationLog, reconcile }: ActivityDependencies): WalletActivities {
  return {
    async applyLeg(change) {
      try {
        return await ledger.applyLeg(change);
      } catch (error) {
        throw asActivityFailure(error);
      }
    },
    async publishFinalization(finalized) {
      // This step may follow an attempt the broker confirmed: announce each outcome once.
      if (await finalizationLog.wasConfirmedBefore(finalized)) return;
      await finalizations.publish(finalized);
      // The outcome is announced; failing now would only announce it again. The record just
      // spares a later retry that repeat, so a database fault here is logged, not retried.
      await finalizationLog.recordConfirmed(finalized).catch((error: unknown) => {
        Context.current().log.warn('confirmed finalization not recorded', { transactionId: finalized.transactionId, error });
      });
    },
    reversalsOf: (transactionId) => ledger.reversalsOf(transactionId),
    reconcileLedger: () => reconcile(),
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
