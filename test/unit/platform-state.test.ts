import { Registry } from 'prom-client';
import { createLogger } from '../../src/logger';
import { registerPlatformState, type PlatformStateSources } from '../../src/monitoring/platform-state';

/** The samples (not HELP or TYPE lines) of one metric in a scrape. */
async function samplesOf(registry: Registry, name: string): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`));
}

const readable: PlatformStateSources = {
  reconciliation: async () => null,
  oldestOpenTransaction: async () => null,
  waitingForOperator: async () => 0,
  workflowBacklog: async () => 0,
  queues: async () => [],
};

describe('the platform state gauges', () => {
  it('leave the reconciliation gauges without a sample before any pass, so no alert reads a made-up 0', async () => {
    const registry = new Registry();
    registerPlatformState(registry, readable, createLogger('silent'));
    for (const name of ['wallet_reconciliation_last_pass_ok', 'wallet_reconciliation_last_pass_timestamp_seconds']) {
      expect({ name, samples: await samplesOf(registry, name) }).toEqual({ name, samples: [] });
    }
  });

  it('leave the gauges of a source that cannot be read without a sample, and count the failure', async () => {
    const registry = new Registry();
    const failing = async () => {
      throw new Error('database unavailable');
    };
    registerPlatformState(registry, { ...readable, waitingForOperator: failing }, createLogger('silent'));
    expect(await samplesOf(registry, 'wallet_transactions_waiting_for_operator')).toEqual([]);
    expect(await samplesOf(registry, 'wallet_state_read_failures')).toContain('wallet_state_read_failures{source="waitingForOperator"} 1');
  });
});
