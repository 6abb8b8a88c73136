import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  LEDGER_INVARIANT_FAILURE_TYPE,
  toAnnouncement,
  type AppliedLeg,
  type LegChange,
  type RecordedTransaction,
  type TransactionFinalized,
  type TransactionOpening,
} from '../src/domain/transaction';
import { BusinessRuleError, LedgerInvariantError } from '../src/ledger/errors';
import type { Ledger } from '../src/ledger/ledger';
import type { FinalizationEcho } from '../src/messaging/finalization-echo';
import type { FinalizationPublisher } from '../src/messaging/finalization-publisher';
import { announcementKey, type FinalizationLog } from '../src/persistence/finalization-log';
import type { ReconciliationReport } from '../src/ledger/reconciliation';
import type { TransactionRecords } from '../src/persistence/transaction-record';
import { KeyedMutex } from '../src/support/keyed-mutex';

export interface WalletActivities {
  /** Opens the transaction's record on its first event, or tells where a transaction seen before stands. */
  openTransaction(opening: TransactionOpening): Promise<RecordedTransaction>;
  /** Applies one leg of a transaction to a wallet, exactly once. */
  applyLeg(change: LegChange): Promise<AppliedLeg>;
  /**
   * Records the transaction's outcome (with the legs its execution applied) and announces it on
   * `transaction.events`, confirmed by the broker.
   */
  publishFinalization(finalized: TransactionFinalized, legs?: AppliedLeg[]): Promise<void>;
  /** The reversals that would undo what a transaction still has standing, newest first. */
  reversalsOf(transactionId: string): Promise<LegChange[]>;
  /** Checks every wallet against its ledger and the platform's money against its top-ups. */
  reconcileLedger(): Promise<ReconciliationReport>;
}

export interface ActivityDependencies {
  ledger: Pick<Ledger, 'applyLeg' | 'reversalsOf'>;
  finalizations: Pick<FinalizationPublisher, 'publish'>;
  finalizationLog: Pick<FinalizationLog, 'rememberedAsDelivered' | 'rememberDelivered' | 'wasDelivered'>;
  finalizationEcho: Pick<FinalizationEcho, 'catchUp'>;
  records: Pick<TransactionRecords, 'open' | 'recordOutcome' | 'isLatest'>;
  reconcile: () => Promise<ReconciliationReport>;
}

export function createActivities({ ledger, finalizations, finalizationLog, finalizationEcho, records, reconcile }: ActivityDependencies): WalletActivities {
  const announcing = new KeyedMutex();

  /** Whether an earlier attempt at this announcement got it into the broker's queues. */
  async function announcedEarlier(finalized: TransactionFinalized): Promise<boolean> {
    // That attempt may have been routed with its confirm lost in a crash: the echo knows.
    if (await finalizationLog.wasDelivered(finalized)) return true;
    await finalizationEcho.catchUp();
    if (await finalizationLog.wasDelivered(finalized)) return true;
    Context.current().log.info('an earlier attempt left no announcement in the broker; announcing', { ...finalized });
    return false;
  }

  /**
   * Publishes unless this attempt is no longer the live one: it may have been frozen (a long pause)
   * while a later attempt announced, and the transaction moved on to another outcome since.
   */
  async function publishIfLive(finalized: TransactionFinalized): Promise<boolean> {
    const latest = await records.isLatest(finalized);
    const context = Context.current();
    context.cancellationSignal.throwIfAborted();
    if (!latest) {
      context.log.warn('the transaction moved on to another outcome; this attempt does not announce', { ...finalized });
      return false;
    }
    await finalizations.publish(finalized);
    return true;
  }

  return {
    openTransaction: (opening) => records.open(opening),
    async applyLeg(change) {
      try {
        return await ledger.applyLeg(change, Context.current().cancellationSignal);
      } catch (error) {
        throw asActivityFailure(error);
      }
    },
    publishFinalization(requested, legs = []) {
      const finalized = toAnnouncement(requested);
      // A regular activity can take over while a timed-out local attempt still runs in this
      // process: attempts at one announcement take turns, and the later one finds it remembered.
      return announcing.run(announcementKey(finalized), async () => {
        if (finalizationLog.rememberedAsDelivered(finalized)) return;
        const { recording, firstAttempt } = await records.recordOutcome(finalized, legs);
        if (recording === 'superseded') {
          Context.current().log.warn('the transaction is already final with another outcome; not announcing', { ...finalized });
          return;
        }
        // This step may run again after an attempt that got through: announce each outcome once.
        if (!firstAttempt && (await announcedEarlier(finalized))) return;
        if (await publishIfLive(finalized)) finalizationLog.rememberDelivered(finalized);
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
