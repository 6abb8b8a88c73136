import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleUpdateOptions,
  type Workflow,
} from '@temporalio/client';
import type { Logger } from '../logger';

export const RECONCILIATION_SCHEDULE_ID = 'wallet-ledger-reconciliation';

/**
 * Makes sure the reconciliation runs every `intervalMinutes` on `taskQueue`. A schedule left by an
 * earlier start with another queue or interval is brought up to date: otherwise a service moved to
 * another task queue would leave the reconciliation on a queue nobody polls.
 */
export async function ensureReconciliationSchedule(
  client: Client,
  taskQueue: string,
  intervalMinutes: number,
  logger: Logger,
): Promise<void> {
  const wanted = reconciliationSchedule(taskQueue, intervalMinutes);
  try {
    await client.schedule.create({ scheduleId: RECONCILIATION_SCHEDULE_ID, ...wanted });
    return;
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  const handle = client.schedule.getHandle(RECONCILIATION_SCHEDULE_ID);
  const current = await handle.describe();
  if (matches(current, taskQueue, intervalMinutes)) return;
  await handle.update((previous) => ({ ...wanted, state: { paused: previous.state.paused, note: previous.state.note } }));
  logger.info({ scheduleId: RECONCILIATION_SCHEDULE_ID, taskQueue, intervalMinutes }, 'reconciliation schedule updated');
}

function reconciliationSchedule(
  taskQueue: string,
  intervalMinutes: number,
): Omit<ScheduleUpdateOptions<ScheduleOptionsStartWorkflowAction<Workflow>>, 'state'> {
  return {
    spec: { intervals: [{ every: `${intervalMinutes} minutes` }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'ledgerReconciliation',
      workflowId: RECONCILIATION_SCHEDULE_ID,
      taskQueue,
      workflowExecutionTimeout: '30 minutes',
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
  };
}

function matches(current: ScheduleDescription, taskQueue: string, intervalMinutes: number): boolean {
  const intervals = current.spec.intervals ?? [];
  return current.action.taskQueue === taskQueue && intervals.length === 1 && intervals[0].every === intervalMinutes * 60_000;
}
