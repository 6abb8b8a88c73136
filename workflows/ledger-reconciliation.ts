import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { WalletActivities } from '../activities';
import { LEDGER_DRIFT_FAILURE_TYPE, type ReconciliationReport } from '../src/domain';

const { reconcileLedger } = proxyActivities<Pick<WalletActivities, 'reconcileLedger'>>({
  // It heartbeats as it walks the wallets; a pass stalled for a minute is retried.
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

/**
 * Run on a schedule (and on demand): checks every wallet against its ledger and the platform's
 * conservation of money. Drift fails the execution, so it stands out in the Temporal UI with the
 * offending wallets in its failure details.
 */
export async function ledgerReconciliation(): Promise<ReconciliationReport> {
  const report = await reconcileLedger();
  if (!report.ok) {
    throw ApplicationFailure.create({
      type: LEDGER_DRIFT_FAILURE_TYPE,
      message: `ledger drift: ${report.drift.length} wallet(s), ${report.unbalanced.length} unbalanced and ${report.stalled.length} stalled transaction(s), balances ${report.totalBalance} vs topped up ${report.toppedUp} (${report.conserved ? '' : 'not '}conserved)`,
      nonRetryable: true,
      details: [report],
    });
  }
  return report;
}
