import { PLATFORM_AMOUNT_LIMITS } from '../../src/config';
import { createLogger } from '../../src/logger';
import { createMessageDecoder, type ConsumedMessage } from '../../src/messaging/messages';
import { BrokerConnection } from '../../src/messaging/broker-connection';
import { TransactionEventBridge, type BridgeOptions } from '../../src/messaging/bridge';
import type { Disposition } from '../../src/messaging/message-router';
import { DEAD_LETTER, QUEUES } from '../../src/messaging/topology';
import { createMetrics } from '../../src/metrics';
import { eventually } from '../support/eventually';
import { objectId } from '../support/ids';
import { PlatformBroker } from '../support/platform-broker';
import { BrokerControl } from '../support/broker-control';
import { TEST_RABBITMQ_URL } from '../support/tools';

/**
 * Stands for Temporal or the database being down: refuses the first `failures` hand-overs, as an
 * outage does, and every hand-over of a transaction in `poisoned`, as a permanent fault does.
 */
class FlakyDestination {
  readonly received: ConsumedMessage[] = [];
  readonly routed: ConsumedMessage[] = [];
  readonly givenUp: Array<{ message: ConsumedMessage; problem: string }> = [];
  readonly poisoned = new Set<string>();
  constructor(public failures: number) {}
  async route(message: ConsumedMessage): Promise<Disposition> {
    this.routed.push(message);
    if (message.kind === 'transactionCompleted' && this.poisoned.has(message.event.transactionId)) {
      throw new TypeError('Cannot read properties of undefined');
    }
    if (this.failures > 0) {
      this.failures--;
      throw new Error('14 UNAVAILABLE: Temporal is not reachable');
    }
    this.received.push(message);
    return { outcome: 'accepted' };
  }
  async giveUp(message: ConsumedMessage, problem: string): Promise<Disposition> {
    this.givenUp.push({ message, problem });
    return { outcome: 'dead_lettered', reason: problem };
  }
}

describe('the bridge when the destination of a message is down', () => {
  let platform: PlatformBroker;
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

  beforeAll(async () => {
    platform = await PlatformBroker.connect();
  });
  beforeEach(async () => {
    await platform.purgeAll();
  });
  afterAll(async () => {
    await platform.close();
  });

  async function startBridge(destination: FlakyDestination, options: Partial<BridgeOptions> = {}) {
    const metrics = createMetrics();
    const broker = new BrokerConnection(TEST_RABBITMQ_URL, 'bridge-test', logger, {
      reopened: (channel) => metrics.channelReopens.inc({ channel }),
    });
    const bridge = new TransactionEventBridge(
      broker,
      destination,
      {
        prefetch: 4,
        decode: createMessageDecoder({ maxMessageBytes: 65536, amountLimits: PLATFORM_AMOUNT_LIMITS }),
        maxHoldMs: 60_000,
        maxPermanentFailures: 3,
        ...options,
      },
      metrics,
      logger,
    );
    broker.start();
    await broker.waitUntilConnected();
    const total = async (metric: { get(): Promise<{ values: Array<{ value: number; labels: object }> }> }, labels: object = {}) =>
      (await metric.get()).values
        .filter((value) => Object.entries(labels).every(([key, wanted]) => (value.labels as Record<string, unknown>)[key] === wanted))
        .reduce((sum, value) => sum + value.value, 0);
    const retries = () => total(metrics.bridgeRetries);
    return { broker, bridge, retries, metrics, total };
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
    const { broker, bridge } = await startBridge(destination, { admission: { waitForRoom: () => room } });
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
  it('gives a message held past its bound back to its queue, delivers it again, and hands it over once the outage ends', async () => {
    const destination = new FlakyDestination(Number.POSITIVE_INFINITY);
    const { broker, bridge, metrics, total } = await startBridge(destination, { maxHoldMs: 1_000 });
    try {
      const userId = objectId();
      platform.signup(userId);
      await eventually('the message to be requeued twice', async () =>
        (await total(metrics.messagesConsumed, { queue: QUEUES.userSignup, outcome: 'requeued' })) >= 2 ? true : undefined,
      );
      expect(destination.routed.length).toBeGreaterThan(2);
      expect(destination.received).toEqual([]);

      destination.failures = 0;
      await eventually('the hand-over to succeed', () => (destination.received.length === 1 ? true : undefined));
      expect(destination.received).toEqual([{ kind: 'userSignup', userId }]);
      await bridge.stop(1_000);
      expect(await platform.queueDepth(QUEUES.userSignup)).toMatchObject({ messageCount: 0 });
      expect(await platform.drainDeadLetters()).toEqual([]);
    } finally {
      await broker.close();
    }
  });

  it('gives up a message that fails for a permanent reason after its bounded tries: dead-lettered with why, the queue flowing on', async () => {
    const destination = new FlakyDestination(0);
    const { broker, bridge } = await startBridge(destination, { maxPermanentFailures: 3 });
    try {
      const [poisoned, healthy, userId] = [objectId(), objectId(), objectId()];
      destination.poisoned.add(poisoned);
      platform.topUp(poisoned, userId, 100);
      platform.topUp(healthy, userId, 100);
      await eventually('the healthy top-up to be handed over', () => (destination.received.length === 1 ? true : undefined));
      await eventually('the poisoned one to be given up', () => (destination.givenUp.length === 1 ? true : undefined));

      const routedPoisoned = destination.routed.filter(
        (message) => message.kind === 'transactionCompleted' && message.event.transactionId === poisoned,
      );
      expect(routedPoisoned).toHaveLength(3);
      expect(destination.givenUp[0]).toEqual({
        message: expect.objectContaining({ kind: 'transactionCompleted', event: expect.objectContaining({ transactionId: poisoned }) }),
        problem: 'failed 3 times: Cannot read properties of undefined',
      });
      const letters = await eventually('the dead letter', async () => {
        const drained = await platform.drainDeadLetters();
        return drained.length > 0 ? drained : undefined;
      });
      expect(letters).toEqual([
        {
          body: expect.stringContaining(poisoned),
          reason: 'failed 3 times: Cannot read properties of undefined',
          queue: QUEUES.transactionCompleted,
        },
      ]);
      await bridge.stop(1_000);
      expect(await platform.queueDepth(QUEUES.transactionCompleted)).toMatchObject({ messageCount: 0 });
    } finally {
      await broker.close();
    }
  });

  it('counts a dead letter the dead-letter queue refuses, keeps the message in its queue, and moves it once there is room', async () => {
    const control = new BrokerControl();
    const destination = new FlakyDestination(0);
    const { broker, bridge, metrics, total } = await startBridge(destination, { maxHoldMs: 2_000 });
    await control.rabbitmqctl(
      'set_policy',
      '--apply-to',
      'queues',
      'bridge-test-dlq-full',
      `^${DEAD_LETTER.queue.replace('.', '\\.')}$`,
      '{"max-length":0}',
    );
    try {
      platform.completed({ type: 'TopUp', amount: 'lots' }); // names no transaction: refused by validation
      await eventually('the refusal to be counted', async () =>
        (await total(metrics.deadLettersRefused, { queue: QUEUES.transactionCompleted })) >= 1 ? true : undefined,
      );
      expect(await total(metrics.deadLettered)).toBe(0);
      await control.rabbitmqctl('clear_policy', 'bridge-test-dlq-full');
      await eventually('the message to reach the dead-letter queue', async () =>
        (await total(metrics.deadLettered)) === 1 ? true : undefined,
      );
      expect(await platform.drainDeadLetters()).toEqual([expect.objectContaining({ queue: QUEUES.transactionCompleted })]);
      await bridge.stop(1_000);
      expect(await platform.queueDepth(QUEUES.transactionCompleted)).toMatchObject({ messageCount: 0 });
    } finally {
      await control.rabbitmqctl('clear_policy', 'bridge-test-dlq-full').catch(() => undefined);
      await broker.close();
    }
  });

  it('reopens its channel when the broker closes it, consumes again, and loses no message', async () => {
    const control = new BrokerControl();
    const destination = new FlakyDestination(0);
    const { broker, bridge, metrics, total } = await startBridge(destination);
    try {
      const users = Array.from({ length: 60 }, () => objectId());
      for (const [i, userId] of users.entries()) {
        platform.signup(userId);
        if (i === 20 || i === 40) expect(await control.closeChannelsOf('bridge-test')).toBeGreaterThan(0);
        await new Promise((resolve) => setImmediate(resolve));
      }
      await eventually('every sign-up handed over', () => {
        const seen = new Set(destination.received.map((message) => (message.kind === 'userSignup' ? message.userId : '')));
        return users.every((userId) => seen.has(userId)) ? true : undefined;
      });
      expect(await total(metrics.channelReopens, { channel: 'consumer' })).toBeGreaterThanOrEqual(2);
      expect(broker.missingConsumers(0)).not.toContain(QUEUES.userSignup);
      expect((await platform.queueDepth(QUEUES.userSignup)).consumerCount).toBe(1);
      await bridge.stop(1_000);
      expect(await platform.queueDepth(QUEUES.userSignup)).toMatchObject({ messageCount: 0 });
    } finally {
      await broker.close();
    }
  });
});
