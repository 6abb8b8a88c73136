import {
  SEARCH_ATTRIBUTES,
  TRANSACTION_REVERSAL_WORKFLOW_TYPE,
  TRANSACTION_WORKFLOW_TYPE,
} from '../../workflows/wallet-transaction/definitions';
import type { OperationsContext } from './operations-context';

export interface StuckExecution {
  workflowId: string;
  /** RUNNING, or how an execution that left its transaction unsettled closed (TERMINATED, FAILED, TIMED_OUT, CANCELLED). */
  executionStatus: string;
  walletStatus: string | undefined;
  startTime: Date;
}

/**
 * Running transactions still Pending after `olderThanMs` or waiting for an operator, and executions
 * that closed without settling theirs (terminated, say): the next event or a reset continues those.
 */
export async function listStuck(ctx: OperationsContext, olderThanMs: number, limit = 100): Promise<StuckExecution[]> {
  const since = new Date(Date.now() - olderThanMs).toISOString();
  const status = SEARCH_ATTRIBUTES.status.name;
  const unsettled = `(${status} = "NeedsOperator" OR ${status} = "Pending")`;
  const query =
    `(WorkflowType = "${TRANSACTION_WORKFLOW_TYPE}" OR WorkflowType = "${TRANSACTION_REVERSAL_WORKFLOW_TYPE}") AND (` +
    `(ExecutionStatus = "Running" AND (${status} = "NeedsOperator" OR (${status} = "Pending" AND StartTime < "${since}"))) OR ` +
    `(ExecutionStatus != "Running" AND ExecutionStatus != "Completed" AND ${unsettled}))`;
  const stuck: StuckExecution[] = [];
  for await (const execution of ctx.client.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
    stuck.push({
      workflowId: execution.workflowId,
      executionStatus: execution.status.name,
      walletStatus: execution.typedSearchAttributes.get(SEARCH_ATTRIBUTES.status),
      startTime: execution.startTime,
    });
    if (stuck.length >= limit) break;
  }
  return stuck;
}
