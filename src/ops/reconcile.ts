import { hostname } from 'node:os';
import type { ReconciliationReport } from '../domain';
import { reconcile, reconciliationOver } from '../reconciliation/reconciliation';
import type { OperationsContext } from './operations-context';

/** Runs a reconciliation pass here (incremental unless `full`); refused while another is running. */
export function reconcileNow(ctx: OperationsContext, { full = false } = {}): Promise<ReconciliationReport> {
  return reconcile(reconciliationOver(ctx.stores, ctx.ledger), {
    owner: `ops:${hostname()}:${process.pid}:${Date.now()}`,
    mode: full ? 'full' : 'incremental',
    stalledAfterMs: ctx.stalledAfterMs,
  });
}
