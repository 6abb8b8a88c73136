import { QUEUES } from '../../src/messaging/topology';
import { eventually } from '../support/eventually';
import { objectId } from '../support/ids';
import { TokenIssuer } from '../support/token-issuer';
import { ChaosStack } from './support/chaos-stack';
import { Scenario } from './support/scenario';

// One fault at a time, on servers this suite owns: what the service does while a dependency is
// down, and that nothing is lost or applied twice once it is back.
describe('faults, one at a time', () => {
  let issuer: TokenIssuer;
  let stack: ChaosStack;
  let scenario: Scenario;
  let users: string[];

  beforeAll(async () => {
    issuer = await TokenIssuer.create();
    stack = new ChaosStack('faults', issuer.key().publicPem);
    await stack.start();
    scenario = await Scenario.start(stack);
    users = await scenario.fundedUsers(6, 10_000);
  });
  afterAll(async () => {
    await scenario?.close();
    await stack?.down();
  });

  /** Publishes `count` small transfers among the funded users; returns their ids. */
  async function transfers(count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = objectId();
      ids.push(id);
      await scenario.transfer(id, users[i % users.length], users[(i + 1) % users.length], 1 + (i % 7));
    }
    return ids;
  }

  /**
   * After everything settled: one finalization each, money conserved, queues empty. A broker crash
   * may lose the echo's copy of an announcement it kept for the platform: the step then announces
   * again, so there an identical repeat is allowed, never another status.
   */
  async function expectSettledOnce(ids: string[], { brokerCrashed = false } = {}): Promise<void> {
    await scenario.allFinalized(ids);
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const id of ids) {
      const completed = { transactionId: id, status: 'Completed' };
      const announced = scenario.platform.finalizationsOf(id);
      expect(announced).toEqual(brokerCrashed && announced.length === 2 ? [completed, completed] : [completed]);
    }
    const money = await scenario.checkMoney();
    expect(money.total).toBe(money.toppedUp);
    for (const queue of [QUEUES.userSignup, QUEUES.transactionCompleted, QUEUES.transactionFailed]) {
      expect(await scenario.platform.messagesIn(queue)).toBe(0);
    }
  }

  it('RabbitMQ crashes and restarts: the service reports it, reconnects, and resumes without loss or double application', async () => {
    const before = await transfers(20);
    await stack.crash('rabbitmq');
    await eventually('/ready to report the broker down', async () => {
      const ready = await stack.ready();
      return ready.status === 503 && ready.body.checks?.rabbitmq?.startsWith('down') ? true : undefined;
    });
    const during = transfers(20); // published as soon as the broker is back
    await stack.restart('rabbitmq');
    const after = await during;
    await expectSettledOnce([...before, ...after], { brokerCrashed: true });
    expect(stack.serviceRunning).toBe(true);
    expect(stack.serviceStartCount).toBe(1);
    await eventually('/ready once the broker is back', async () => ((await stack.ready()).status === 200 ? true : undefined));
  });

  it('Temporal stops and comes back: messages wait unacked, then every transaction completes', async () => {
    await stack.crash('temporal');
    const ids = await transfers(20);
    await eventually('/ready to report Temporal down', async () => {
      const ready = await stack.ready();
      return ready.body.checks?.temporal?.startsWith('down') ? true : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(ids.filter((id) => scenario.platform.finalizationsOf(id).length > 0)).toEqual([]);
    await stack.restart('temporal');
    await expectSettledOnce(ids);
  });

  it('the database stops and comes back: reads answer 503, activities retry, nothing applies twice', async () => {
    await stack.crash('ferretdb');
    const ids = await transfers(20);
    await eventually('/ready to report the database down', async () =>
      (await stack.ready()).body.checks?.mongodb?.startsWith('down') ? true : undefined,
    );
    const read = await fetch(`${stack.httpUrl()}/api/v1/wallet/user`, {
      headers: { authorization: `Bearer ${await issuer.token(users[0])}` },
    });
    expect(read.status).toBe(503);
    expect(await read.json()).toEqual({ error: { message: 'Service temporarily unavailable', status: 503 } });
    await stack.restart('ferretdb');
    await expectSettledOnce(ids);
  });

  it('the service process is killed mid-stream and restarted: every accepted transaction completes once', async () => {
    const ids = await transfers(40);
    await eventually('some progress', () => (ids.some((id) => scenario.platform.finalizationsOf(id).length > 0) ? true : undefined));
    await stack.crash('service');
    await stack.restart('service');
    await expectSettledOnce(ids);
  });

  it('SIGTERM drains gracefully with exit code 0 and loses no message', async () => {
    const ids = await transfers(40);
    await eventually('some progress', () => (ids.some((id) => scenario.platform.finalizationsOf(id).length > 0) ? true : undefined));
    expect(await stack.stopService('SIGTERM')).toBe(0);
    await stack.restart('service');
    await expectSettledOnce(ids);
  });
  it("Temporal stops for longer than the broker's consumer_timeout: held messages go back in time, the consumers stay, everything completes", async () => {
    // The broker closes a consumer's channel whose delivery stays unacked for 10 s; the service gives
    // a message back after 5 s. Held three times over (30 requeues of 10 messages), past the 10 s.
    await stack.broker.setConsumerTimeout(10_000, 1_000);
    stack.serviceEnv = { AMQP_MAX_HOLD_SECONDS: '5' };
    await stack.crash('service');
    await stack.restart('service');
    try {
      await eventually('the service to be ready', async () => ((await stack.ready()).status === 200 ? true : undefined), 60_000);
      await stack.crash('temporal');
      const held = await transfers(10);
      await eventually(
        "the held messages to go back to their queue, past the broker's consumer_timeout",
        async () => ((await stack.metric('wallet_messages_consumed_total', { outcome: 'requeued' })) >= 30 ? true : undefined),
        60_000,
        500,
      );
      expect(await stack.metric('wallet_amqp_channel_reopens_total')).toBe(0);
      await stack.restart('temporal');
      const after = await transfers(10);
      await expectSettledOnce([...held, ...after]);
      const consumers = await stack.broker.consumersByQueue();
      for (const queue of [QUEUES.userSignup, QUEUES.transactionCompleted, QUEUES.transactionFailed]) expect(consumers.get(queue)).toBe(1);
    } finally {
      await stack.restart('temporal');
      stack.serviceEnv = {};
      await stack.broker.setConsumerTimeout();
    }
  });

  it("the broker closes the wallet's channels while events flow: they reopen within seconds, nothing lost, nothing applied twice", async () => {
    const ids: string[] = [];
    for (let round = 0; round < 4; round++) {
      ids.push(...(await transfers(15)));
      expect(await stack.broker.closeChannelsOf('wallet-service')).toBeGreaterThanOrEqual(4);
    }
    await expectSettledOnce(ids);
    // The last round's messages may all be settled before its consumer channel is back: wait for the reopens.
    const reopens = await eventually(
      'the consumer channel to reopen after each close',
      async () => {
        const count = await stack.metric('wallet_amqp_channel_reopens_total', { channel: 'consumer' });
        return count >= 4 ? count : undefined;
      },
      20_000,
    );
    expect(reopens).toBeGreaterThanOrEqual(4);
    await eventually('/ready with every consumer back', async () => ((await stack.ready()).status === 200 ? true : undefined), 20_000);
  });
});
