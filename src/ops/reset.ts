import { settledFor } from '../transaction-record/what-events-change';
import { transactionWorkflowId } from '../../workflows/wallet-transaction/definitions';
import { FinalTransactionError, type OperationsContext, type OperatorOverride } from './operations-context';

/**
 * Resets a transaction's execution to its first workflow task: it runs again from the top and
 * follows the transaction record. A transaction decided and announced is refused unless forced:
 * the new run would only find it so.
 */
export async function resetTransaction(
  ctx: OperationsContext,
  transactionId: string,
  reason: string,
  { force = false }: OperatorOverride = {},
): Promise<string> {
  const status = await ctx.stores.records.statusOf(transactionId);
  if (!force && (await settledFor('completed', transactionId, ctx.stores.records, ctx.stores.finalizations))) {
    throw new FinalTransactionError(
      `transaction ${transactionId} is final (${status}): a reset reruns an execution that finds it decided and announced, so no ` +
        'money moves and nothing is announced; pass --force to reset it anyway',
    );
  }
  const workflowId = transactionWorkflowId(transactionId);
  const handle = ctx.client.workflow.getHandle(workflowId);
  const history = await handle.fetchHistory();
  const firstTask = history.events?.find((event) => event.workflowTaskCompletedEventAttributes);
  if (!firstTask?.eventId) throw new Error(`transaction ${transactionId} has no completed workflow task to reset to`);
  const { runId } = await handle.describe();
  const response = await ctx.client.workflowService.resetWorkflowExecution({
    namespace: ctx.client.options.namespace,
    workflowExecution: { workflowId, runId },
    reason,
    workflowTaskFinishEventId: firstTask.eventId,
    requestId: `reset-${transactionId}-${Date.now()}`,
  });
  return response.runId ?? '';
}
