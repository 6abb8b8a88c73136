import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { ConfirmChannel } from 'amqplib';
import type { Ledger } from '../ledger';
import type { Stores } from '../stores';
import { transactionStateQuery, type TransactionState } from '../../workflows/wallet-transaction/definitions';

// What the operators' commands work with: one command a file here, run by cli.ts, called directly by the specs.

export interface OperationsContext {
  client: Client;
  stores: Stores;
  ledger: Pick<Ledger, 'rollProjectionForward'>;
  /** A transfer half-applied and still Pending this long after it opened is reported stalled. */
  stalledAfterMs: number;
  /** A confirm channel on the broker, for the dead-letter commands. */
  channel?: ConfirmChannel;
}

/** An operator's command that would act on a final transaction without being told to. */
export class FinalTransactionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FinalTransactionError';
  }
}

export interface OperatorOverride {
  /** Go ahead though the transaction record says the transaction is final. */
  force?: boolean;
}

export interface ExecutionReport {
  workflowId: string;
  runId: string;
  status: string;
  searchAttributes: Record<string, unknown>;
  memo: Record<string, unknown> | undefined;
  state: TransactionState;
  pendingActivities: Array<{ activityType: string; attempt: number; lastFailure: string | undefined }>;
}

/** An execution as an operator inspects it: where it stands, its state, its pending activities; null when Temporal has none. */
export async function describeExecution(ctx: OperationsContext, workflowId: string): Promise<ExecutionReport | null> {
  const handle = ctx.client.workflow.getHandle(workflowId);
  try {
    const description = await handle.describe();
    return {
      workflowId,
      runId: description.runId,
      status: description.status.name,
      searchAttributes: Object.fromEntries(description.typedSearchAttributes.getAll().map((pair) => [pair.key.name, pair.value])),
      memo: description.memo,
      state: await handle.query(transactionStateQuery),
      pendingActivities: (description.raw.pendingActivities ?? []).map((activity) => ({
        activityType: activity.activityType?.name ?? '?',
        attempt: activity.attempt ?? 0,
        lastFailure: activity.lastFailure?.message ?? undefined,
      })),
    };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return null;
    throw error;
  }
}
