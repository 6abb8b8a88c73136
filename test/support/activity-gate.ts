import { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { TransactionActivities } from '../../activities';
import type { LegChange } from '../../src/domain';

/**
 * Holds one chosen step of a transaction (by default the ledger activity applying one forward leg)
 * until the test opens the gate, so a test can act "while the workflow runs" at a precise point.
 * Only the first attempt at the step is held; a later one (another run's) passes. Installed as a
 * Temporal activity interceptor.
 */
export class LegGate {
  private target: { transactionId: string; leg: LegChange['leg']; activity: keyof TransactionActivities } | undefined;
  private reached: (() => void) | undefined;
  private held: Promise<void> = Promise.resolve();

  /** Arms the gate for a step; `arrived` resolves once that step's activity has arrived at the gate. */
  arm(
    transactionId: string,
    leg: LegChange['leg'],
    activity: keyof TransactionActivities = 'applyForwardLeg',
  ): { arrived: Promise<void>; open: () => void } {
    this.target = { transactionId, leg, activity };
    const arrived = new Promise<void>((resolve) => (this.reached = resolve));
    let release!: () => void;
    this.held = new Promise<void>((resolve) => (release = resolve));
    return {
      arrived,
      open: () => {
        this.target = undefined;
        release();
      },
    };
  }

  readonly interceptor: ActivityInterceptorsFactory = () => ({
    inbound: {
      execute: async (input, next) => {
        const change = input.args[0] as Partial<LegChange> | undefined;
        const target = this.target;
        const activity = Context.current().info.activityType;
        if (target && activity === target.activity && change?.transactionId === target.transactionId && change.leg === target.leg) {
          this.target = undefined;
          this.reached?.();
          await this.held;
        }
        return next(input);
      },
    },
  });
}
