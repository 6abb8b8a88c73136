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
});
