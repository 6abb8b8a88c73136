import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';

export const RECONCILIATION_SCHEDULE_ID = 'wallet-ledger-reconciliation';

/** Makes sure the reconciliation runs every `intervalMinutes` (created once; later starts keep it). */
export async function ensureReconciliationSchedule(client: Client, taskQueue: string, intervalMinutes: number): Promise<void> {
  try {
    await client.schedule.create({
      scheduleId: RECONCILIATION_SCHEDULE_ID,
      spec: { intervals: [{ every: `${intervalMinutes} minutes` }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'ledgerReconciliation',
        workflowId: RECONCILIATION_SCHEDULE_ID,
        taskQueue,
        workflowExecutionTimeout: '30 minutes',
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
    });
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
}
