import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { LegChange } from '../../workflows/contract';

/**
 * Holds the ledger activity of one chosen leg until the test opens the gate, so a test can act
 * "while the workflow runs" at a precise point. Installed as a Temporal activity interceptor.
 */
export class LegGate {
  private target: { transactionId: string; leg: LegChange['leg'] } | undefined;
  private reached: (() => void) | undefined;
  private release: (() => void) | undefined;

  /** Arms the gate for a leg; resolves once that leg's activity has arrived at the gate. */
  arm(transactionId: string, leg: LegChange['leg']): { arrived: Promise<void>; open: () => void } {
    this.target = { transactionId, leg };
    const arrived = new Promise<void>((resolve) => (this.reached = resolve));
    const released = new Promise<void>((resolve) => (this.release = resolve));
    this.held = released;
    return {
      arrived,
      open: () => {
        this.target = undefined;
        this.release?.();
      },
    };
  }

  private held: Promise<void> = Promise.resolve();

  readonly interceptor: ActivityInterceptorsFactory = () => ({
    inbound: {
      execute: async (input, next) => {
        const change = input.args[0] as Partial<LegChange> | undefined;
        const target = this.target;
        if (target && change?.transactionId === target.transactionId && change.leg === target.leg) {
          this.reached?.();
          await this.held;
        }
        return next(input);
      },
    },
  });
}
