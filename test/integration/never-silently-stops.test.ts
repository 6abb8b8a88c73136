import { listStuck } from '../../src/ops/stuck';
import { retryTransaction } from '../../src/ops/retry';
import { showTransaction } from '../../src/ops/show';
import type { OperationsContext } from '../../src/ops/operations-context';
import { CONSUMED_QUEUES, EXCHANGES, FINALIZATION_ECHO } from '../../src/messaging/topology';
import { LEDGER_ENTRY_HINTS } from '../../src/messaging/ledger-entry-hints';
import { BrokerControl } from '../support/broker-control';
import { eventually } from '../support/eventually';
import { objectId } from '../support/ids';
import { TEST_RABBITMQ_URL } from '../support/tools';
import { WalletHarness } from '../support/wallet-harness';

// The service connects as a user of its own, whose rights the broker's operator takes away and
// gives back: the broker then refuses its channels, or its announcements, while the connection stays.
const SERVICE_USER = { name: 'wallet-never-stops', password: 'not-a-secret' };
const ALL = '.*';
const NOTHING = '^$';
const CONSUMERS = [...CONSUMED_QUEUES, FINALIZATION_ECHO.queue, LEDGER_ENTRY_HINTS.consumer];

describe('a wallet that never silently stops', () => {
  const control = new BrokerControl();
  let wallet: WalletHarness;
  let closeOperator: () => Promise<void>;
  let ctx: OperationsContext;

  const setServiceRights = (configure: string, write: string, read: string) =>
    control.rabbitmqctl('set_permissions', '-p', '/', SERVICE_USER.name, configure, write, read);
  const ready = async () => {
    const response = await fetch(`http://127.0.0.1:${wallet.service.httpPort}/ready`);
    return { status: response.status, checks: ((await response.json()) as { checks: Record<string, string> }).checks };
  };

  beforeAll(async () => {
    await control.rabbitmqctl('add_user', SERVICE_USER.name, SERVICE_USER.password).catch(() => undefined);
    await setServiceRights(ALL, ALL, ALL);
    const url = new URL(TEST_RABBITMQ_URL);
    url.username = SERVICE_USER.name;
    url.password = SERVICE_USER.password;
    wallet = await WalletHarness.start('never-stops', { env: { RABBITMQ_URL: url.toString(), TRANSACTION_STEP_TIMEOUT_SECONDS: '10' } });
    ({ ctx, close: closeOperator } = await wallet.operatorContext());
  });
  afterAll(async () => {
    await setServiceRights(ALL, ALL, ALL).catch(() => undefined);
    await closeOperator?.();
    await wallet?.stop();
    await control.rabbitmqctl('delete_user', SERVICE_USER.name).catch(() => undefined);
  });

  it('reports each consumer on /ready, names the ones missing past their grace with 503, and consumes again once the broker lets it', async () => {
    expect(await ready()).toEqual({
      status: 200,
      checks: expect.objectContaining(Object.fromEntries(CONSUMERS.map((consumer) => [`consumer ${consumer}`, 'up']))),
    });

    await setServiceRights(NOTHING, NOTHING, NOTHING);
    expect(await control.closeChannelsOf('wallet-service')).toBeGreaterThanOrEqual(4);
    const down = await eventually('/ready to name the missing consumers', async () => {
      const answer = await ready();
      return answer.status === 503 ? answer : undefined;
    });
    expect(down.checks).toEqual(
      expect.objectContaining({ rabbitmq: 'up', ...Object.fromEntries(CONSUMERS.map((consumer) => [`consumer ${consumer}`, 'down'])) }),
    );

    await setServiceRights(ALL, ALL, ALL);
    await eventually('/ready again', async () => ((await ready()).status === 200 ? true : undefined));
    const consumers = await control.consumersByQueue();
    for (const queue of [...CONSUMED_QUEUES, FINALIZATION_ECHO.queue]) expect(consumers.get(queue)).toBeGreaterThanOrEqual(1);
    const user = await wallet.fundedUser(100);
    expect(await wallet.balanceOf(user)).toBe(100);
  });

  it('waits for an operator when the announcement cannot go out within its bound: listed as stuck, finished once by a retry', async () => {
    const [user] = await wallet.signedUp(1);
    // The broker refuses the service's publishes to the platform's exchange, and nothing else.
    await setServiceRights(ALL, `^(?!${EXCHANGES.transactions.replace('.', '\\.')}$).*`, ALL);
    await control.closeChannelsOf('wallet-service');
    const transactionId = objectId();
    wallet.platform.topUp(transactionId, user, 70);

    const stuck = await eventually(
      'the execution to wait for an operator',
      async () => (await listStuck(ctx, 60_000)).find((s) => s.workflowId.endsWith(transactionId) && s.walletStatus === 'NeedsOperator'),
      90_000,
      500,
    );
    expect(stuck.executionStatus).toBe('RUNNING');
    const shown = await showTransaction(ctx, transactionId);
    expect(shown.workflow?.state.attention).toMatch(/^announcing Completed failed/);
    expect(wallet.platform.finalizationsOf(transactionId)).toEqual([]);

    await setServiceRights(ALL, ALL, ALL);
    await retryTransaction(ctx, transactionId);
    expect(await wallet.platform.finalizationOf(transactionId)).toEqual({ transactionId, status: 'Completed' });
    await eventually('the execution to close', async () =>
      (await showTransaction(ctx, transactionId)).workflow?.status === 'COMPLETED' ? true : undefined,
    );
    expect(wallet.platform.finalizationsOf(transactionId)).toHaveLength(1);
    expect(await wallet.balanceOf(user)).toBe(70);
  }, 150_000);
});
