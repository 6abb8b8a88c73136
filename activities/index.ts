import { ApplicationFailure, Context } from '@temporalio/activity';
import { LEDGER_INVARIANT_FAILURE_TYPE, type AppliedLeg, type LegChange, type TransactionFinalized } from '../src/domain/transaction';
import { BusinessRuleError, LedgerInvariantError } from '../src/ledger/errors';
import type { Ledger } from '../src/ledger/ledger';
import type { FinalizationEcho } from '../src/messaging/finalization-echo';
import type { FinalizationPublisher } from '../src/messaging/finalization-publisher';
import { announcementKey, type FinalizationLog } from '../src/persistence/finalization-log';
import type { ReconciliationReport } from '../src/ledger/reconciliation';
import { KeyedMutex } from '../src/support/keyed-mutex';

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
  finalizationLog: Pick<FinalizationLog, 'rememberedAsDelivered' | 'rememberDelivered' | 'recordAttempt' | 'wasDelivered'>;
  finalizationEcho: Pick<FinalizationEcho, 'catchUp'>;
  reconcile: () => Promise<ReconciliationReport>;
}

export function createActivities({ ledger, finalizations, finalizationLog, finalizationEcho, reconcile }: ActivityDependencies): WalletActivities {
  const announcing = new KeyedMutex();

  /** Whether an earlier run of this step got the announcement into the broker's queues. */
  async function alreadyAnnounced(finalized: TransactionFinalized): Promise<boolean> {
    if (finalizationLog.rememberedAsDelivered(finalized)) return true;
    if (await finalizationLog.recordAttempt(finalized)) return false;
    // An earlier attempt may have been routed with its confirm lost in a crash: the echo knows.
    if (await finalizationLog.wasDelivered(finalized)) return true;
    await finalizationEcho.catchUp();
    if (await finalizationLog.wasDelivered(finalized)) return true;
    Context.current().log.info('an earlier attempt left no announcement in the broker; announcing', { ...finalized });
    return false;
  }

  return {
    async applyLeg(change) {
      try {
        return await ledger.applyLeg(change, Context.current().cancellationSignal);
      } catch (error) {
        throw asActivityFailure(error);
      }
    },
    publishFinalization(finalized) {
      // A regular activity can take over while a timed-out local attempt still runs in this
      // process: attempts at one announcement take turns, and the later one finds it remembered.
      return announcing.run(announcementKey(finalized), async () => {
        // This step may run again after an attempt that got through: announce each outcome once.
        if (await alreadyAnnounced(finalized)) return;
        await finalizations.publish(finalized);
        finalizationLog.rememberDelivered(finalized);
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
