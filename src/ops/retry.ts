import { WorkflowNotFoundError } from '@temporalio/client';
import { settledFor } from '../transaction-record/what-events-change';
import { operatorRetrySignal, transactionReversalWorkflowId, transactionWorkflowId } from '../../workflows/wallet-transaction/definitions';
import { FinalTransactionError, type OperationsContext, type OperatorOverride } from './operations-context';

/**
 * Asks the transaction's running execution (a legacy reversal's, if one runs) to run its stuck
 * step again. A transaction decided Failed and announced has nothing left to retry: refused unless forced.
 */
export async function retryTransaction(
  ctx: OperationsContext,
  transactionId: string,
  { force = false }: OperatorOverride = {},
): Promise<string> {
  if (!force && (await settledFor('failed', transactionId, ctx.stores.records, ctx.stores.finalizations))) {
    throw new FinalTransactionError(
      `transaction ${transactionId} is final (Failed): nothing is left to retry and no money would move; pass --force to signal its execution anyway`,
    );
  }
  for (const workflowId of [transactionReversalWorkflowId(transactionId), transactionWorkflowId(transactionId)]) {
    const handle = ctx.client.workflow.getHandle(workflowId);
    const running = await handle.describe().then(
      (description) => description.status.name === 'RUNNING',
      (error: unknown) => {
        if (error instanceof WorkflowNotFoundError) return false;
        throw error;
      },
    );
    if (running) {
      await handle.signal(operatorRetrySignal);
      return workflowId;
    }
  }
  throw new Error(`transaction ${transactionId} has no running execution to retry`);
}
