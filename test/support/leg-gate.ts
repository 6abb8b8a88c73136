import type { ForwardLeg } from '../../src/domain';
import type { Ledger } from '../../src/ledger';

/**
 * Holds the ledger's application of one chosen forward leg of a transaction until the test opens
 * the gate, so a test can act "while the workflow runs" at a precise point: inside the step that
 * applies the leg, before the ledger writes it. Only the first application is held; a later one
 * (another run's, or a retry's) passes. Installed on the service's ledger.
 */
export class LegGate {
  private target: { transactionId: string; leg: ForwardLeg } | undefined;
  private reached: (() => void) | undefined;
  private held: Promise<void> = Promise.resolve();

  /** Makes the ledger's applyLeg wait at the gate for the armed leg; the activities call the same ledger. */
  install(ledger: Pick<Ledger, 'applyLeg'>): void {
    const apply = ledger.applyLeg.bind(ledger);
    ledger.applyLeg = async (change, signal) => {
      const target = this.target;
      if (target && change.transactionId === target.transactionId && change.leg === target.leg) {
        this.target = undefined;
        this.reached?.();
        await this.held;
      }
      return apply(change, signal);
    };
  }

  /** Arms the gate for a leg; `arrived` resolves once the step applying it has arrived at the gate. */
  arm(transactionId: string, leg: ForwardLeg): { arrived: Promise<void>; open: () => void } {
    this.target = { transactionId, leg };
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
}
