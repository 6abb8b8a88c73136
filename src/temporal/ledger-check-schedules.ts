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

/** A ledger check the service schedules: which workflow, how often, and how long one run may take. */
export interface LedgerCheckSchedule {
  scheduleId: string;
  workflowType: string;
  intervalMinutes: number;
  executionTimeout: string;
}

export const RECONCILIATION_SCHEDULE_ID = 'wallet-ledger-reconciliation';
export const VERIFICATION_SCHEDULE_ID = 'wallet-ledger-verification';

/** The reconciliation pass, every `intervalMinutes`. */
export function reconciliationSchedule(intervalMinutes: number): LedgerCheckSchedule {
  return { scheduleId: RECONCILIATION_SCHEDULE_ID, workflowType: 'ledgerReconciliation', intervalMinutes, executionTimeout: '30 minutes' };
}

/** The re-walk of every hash chain, every `intervalMinutes`; a run may take until the next one is due. */
export function verificationSchedule(intervalMinutes: number): LedgerCheckSchedule {
  return {
    scheduleId: VERIFICATION_SCHEDULE_ID,
    workflowType: 'ledgerVerification',
    intervalMinutes,
    executionTimeout: `${intervalMinutes} minutes`,
  };
}

/**
 * Makes sure a ledger check runs every `intervalMinutes` on `taskQueue`. A schedule left by an
 * earlier start with another queue or interval is brought up to date: otherwise a service moved to
 * another task queue would leave the check on a queue nobody polls. Runs never overlap.
 */
export async function ensureLedgerCheckSchedule(
  client: Client,
  check: LedgerCheckSchedule,
  taskQueue: string,
  logger: Logger,
): Promise<void> {
  const wanted = scheduleOf(check, taskQueue);
  try {
    await client.schedule.create({ scheduleId: check.scheduleId, ...wanted });
    return;
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  const handle = client.schedule.getHandle(check.scheduleId);
  const current = await handle.describe();
  if (matches(current, taskQueue, check.intervalMinutes)) return;
  await handle.update((previous) => ({ ...wanted, state: { paused: previous.state.paused, note: previous.state.note } }));
  logger.info({ scheduleId: check.scheduleId, taskQueue, intervalMinutes: check.intervalMinutes }, 'ledger check schedule updated');
}

function scheduleOf(
  check: LedgerCheckSchedule,
  taskQueue: string,
): Omit<ScheduleUpdateOptions<ScheduleOptionsStartWorkflowAction<Workflow>>, 'state'> {
  return {
    spec: { intervals: [{ every: `${check.intervalMinutes} minutes` }] },
    action: {
      type: 'startWorkflow',
      workflowType: check.workflowType,
      workflowId: check.scheduleId,
      taskQueue,
      workflowExecutionTimeout: check.executionTimeout,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
  };
}

function matches(current: ScheduleDescription, taskQueue: string, intervalMinutes: number): boolean {
  const intervals = current.spec.intervals ?? [];
  return current.action.taskQueue === taskQueue && intervals.length === 1 && intervals[0].every === intervalMinutes * 60_000;
}
