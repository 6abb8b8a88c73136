import { ApplicationFailure, continueAsNew, proxyActivities } from '@temporalio/workflow';
import type { WalletActivities } from '../activities';
import { LEDGER_DRIFT_FAILURE_TYPE, type ChainBreak } from '../src/domain';

const { verifyLedgerSlice } = proxyActivities<Pick<WalletActivities, 'verifyLedgerSlice'>>({
  // A slice heartbeats inside every wallet it walks; one stalled for a minute is retried.
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

/** Slices verified per run before the history is carried into a new run (continue-as-new). */
const SLICES_PER_RUN = 100;
/** Broken wallets carried and reported at most. */
const MAX_BROKEN = 50;

export interface LedgerVerificationProgress {
  after: string | null;
  wallets: number;
  entries: number;
  broken: ChainBreak[];
}

/**
 * Run on a schedule: re-walks every wallet's hash chain from its first entry, a slice of wallets at
 * a time, reading only. A changed entry fails the execution with the first broken entry of each
 * wallet in its details.
 */
export async function ledgerVerification(
  progress: LedgerVerificationProgress = { after: null, wallets: 0, entries: 0, broken: [] },
): Promise<LedgerVerificationProgress> {
  let { after, wallets, entries, broken } = progress;
  for (let slices = 0; slices < SLICES_PER_RUN; slices++) {
    const slice = await verifyLedgerSlice(after);
    wallets += slice.wallets;
    entries += slice.entries;
    broken = [...broken, ...slice.broken].slice(0, MAX_BROKEN);
    after = slice.next;
    if (after === null) {
      if (broken.length > 0) {
        throw ApplicationFailure.create({
          type: LEDGER_DRIFT_FAILURE_TYPE,
          message: `ledger chain broken in ${broken.length} wallet(s): ${broken.map((b) => `${b.userId} at version ${b.version}`).join(', ')}`,
          nonRetryable: true,
          details: [{ wallets, entries, broken }],
        });
      }
      return { after, wallets, entries, broken };
    }
  }
  return continueAsNew<typeof ledgerVerification>({ after, wallets, entries, broken });
}
