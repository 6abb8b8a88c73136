import { PLATFORM_AMOUNT_LIMITS } from '../../src/config';
import { createMessageDecoder } from '../../src/messaging/messages';
import { createLogger } from '../../src/logger';
import { BrokerConnection } from '../../src/messaging/broker-connection';
import { TransactionEventBridge, type BridgeOptions } from '../../src/messaging/bridge';
import type { ConsumedMessage } from '../../src/messaging/messages';
import type { Disposition } from '../../src/messaging/message-router';
import { QUEUES } from '../../src/messaging/topology';
import { createMetrics } from '../../src/metrics';
import { eventually } from '../support/eventually';
import { objectId } from '../support/ids';
import { PlatformBroker } from '../support/platform-broker';
import { TEST_RABBITMQ_URL } from '../support/tools';

/** Stands for Temporal or the database being down: refuses the first `failures` hand-overs. */
class FlakyDestination {
  readonly received: ConsumedMessage[] = [];
  constructor(private failures: number) {}
  async route(message: ConsumedMessage): Promise<Disposition> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('14 UNAVAILABLE: Temporal is not reachable');
    }
    this.received.push(message);
    return { outcome: 'accepted' };
  }
}

describe('the bridge when the destination of a message is down', () => {
  let platform: PlatformBroker;
  const logger = createLogger('silent');

  beforeAll(async () => {
    platform = await PlatformBroker.connect();
  });
  beforeEach(async () => {
    await platform.purgeAll();
  });
  afterAll(async () => {
    await platform.close();
  });

  async function startBridge(destination: FlakyDestination, admission?: BridgeOptions['admission']) {
    const metrics = createMetrics();
    const broker = new BrokerConnection(TEST_RABBITMQ_URL, 'bridge-test', logger);
    const bridge = new TransactionEventBridge(
      broker,
      destination,
      { prefetch: 4, decode: createMessageDecoder({ maxMessageBytes: 65536, amountLimits: PLATFORM_AMOUNT_LIMITS }), admission },
      metrics,
      logger,
    );
    broker.start();
    await broker.waitUntilConnected();
    const retries = async () => (await metrics.bridgeRetries.get()).values.reduce((sum, v) => sum + v.value, 0);
    return { broker, bridge, retries };
  }

  it('keeps the message unacked, backs off and retries, and acks it once the hand-over succeeds', async () => {
    const destination = new FlakyDestination(3);
    const { broker, bridge, retries } = await startBridge(destination);
    try {
      const userId = objectId();
      platform.signup(userId);
      await eventually('the hand-over to succeed', () => (destination.received.length === 1 ? true : undefined));
      expect(destination.received).toEqual([{ kind: 'userSignup', userId }]);
      expect(await retries()).toBe(3);
      await bridge.stop(1_000);
      expect(await platform.queueDepth(QUEUES.userSignup)).toMatchObject({ messageCount: 0 });
    } finally {
      await broker.close();
    }
  });

  it('on stop, leaves a message it could not hand over in its queue for the next consumer', async () => {
    const destination = new FlakyDestination(Number.POSITIVE_INFINITY);
    const { broker, bridge, retries } = await startBridge(destination);
    const transactionId = objectId();
    platform.failed(transactionId, 'TopUp', 'Timeout');
    await eventually('a few retries', async () => ((await retries()) >= 2 ? true : undefined));
    await bridge.stop(200);
    await broker.close();
    expect(destination.received).toEqual([]);
    expect(await platform.queueDepth(QUEUES.transactionFailed)).toMatchObject({ messageCount: 1 });
    expect(await platform.drainDeadLetters()).toEqual([]);
  });

  it('holds transaction events while the workflow backlog is full, lets sign-ups through, and hands the events over once there is room', async () => {
    const destination = new FlakyDestination(0);
    let openGate: () => void = () => undefined;
    const room = new Promise<void>((resolve) => (openGate = resolve));
    const { broker, bridge } = await startBridge(destination, { waitForRoom: () => room });
    try {
      const [userId, transactionId] = [objectId(), objectId()];
      platform.topUp(transactionId, userId, 100);
      platform.signup(userId);
      await eventually('the sign-up to be handed over', () => (destination.received.length === 1 ? true : undefined));
      await eventually('the top-up to be delivered to the bridge', async () =>
        (await platform.queueDepth(QUEUES.transactionCompleted)).messageCount === 0 ? true : undefined,
      );
      expect(destination.received).toEqual([{ kind: 'userSignup', userId }]);

      openGate();
      await eventually('the top-up to be handed over', () => (destination.received.length === 2 ? true : undefined));
      expect(destination.received[1]).toMatchObject({ kind: 'transactionCompleted', event: { transactionId } });
      await bridge.stop(1_000);
    } finally {
      await broker.close();
    }
  });
});
