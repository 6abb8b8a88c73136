import { createLogger } from '../../src/logger';
import { BrokerConnection } from '../../src/messaging/broker-connection';
import { TransactionEventBridge } from '../../src/messaging/bridge';
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

  async function startBridge(destination: FlakyDestination) {
    const metrics = createMetrics();
    const broker = new BrokerConnection(TEST_RABBITMQ_URL, 'bridge-test', logger);
    const bridge = new TransactionEventBridge(broker, destination, { prefetch: 4, maxMessageBytes: 65536 }, metrics, logger);
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
});
