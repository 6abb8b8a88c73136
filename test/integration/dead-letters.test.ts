import { EXCHANGES, QUEUES, ROUTING_KEYS } from '../../src/messaging/topology';
import { objectId } from '../support/ids';
import { WalletHarness } from '../support/wallet-harness';

const A = objectId();
const B = objectId();

describe('malformed and invalid messages', () => {
  let wallet: WalletHarness;

  beforeAll(async () => {
    wallet = await WalletHarness.start('dead-letters');
  });
  afterAll(async () => {
    await wallet.stop();
  });

  /** Each case names a transaction of its own, so that its announcement can be told apart. */
  const invalidCompleted: Array<[string, (transactionId: string) => unknown, RegExp]> = [
    ['missing fields', (t) => ({ transactionId: t, type: 'TopUp' }), /userId: .*; amount/],
    ['an unknown type', (t) => ({ transactionId: t, type: 'Refund', userId: A, amount: 5 }), /type: must be "TopUp" or "Transfer"/],
    ['amount 0', (t) => ({ transactionId: t, type: 'TopUp', userId: A, amount: 0 }), /amount: must be at least 1/],
    ['amount -5', (t) => ({ transactionId: t, type: 'TopUp', userId: A, amount: -5 }), /amount: must be at least 1/],
    ['amount 1.5', (t) => ({ transactionId: t, type: 'TopUp', userId: A, amount: 1.5 }), /amount: must be an integer/],
    ['amount "10"', (t) => ({ transactionId: t, type: 'TopUp', userId: A, amount: '10' }), /amount: must be a number/],
    ['a top-up over the limit', (t) => ({ transactionId: t, type: 'TopUp', userId: A, amount: 100_001 }), /amount: must be at most 100000/],
    [
      'a transfer over the limit',
      (t) => ({ transactionId: t, type: 'Transfer', fromUserId: A, toUserId: B, amount: 50_001 }),
      /amount: must be at most 50000/,
    ],
    [
      'the same from and to',
      (t) => ({ transactionId: t, type: 'Transfer', fromUserId: A, toUserId: A, amount: 5 }),
      /toUserId: must differ/,
    ],
    [
      'a non-ObjectId user',
      (t) => ({ transactionId: t, type: 'TopUp', userId: 'user-1', amount: 5 }),
      /userId: must be a 24-hex-digit ObjectId/,
    ],
  ];
  /** Messages that name no transaction the platform could be told about. */
  const anonymous: Array<[string, unknown, RegExp]> = [
    ['bad JSON', '{"transactionId": "', /body is not JSON/],
    [
      'a transactionId that is not an ObjectId',
      { transactionId: 'tx-1', type: 'TopUp', userId: A, amount: 5 },
      /transactionId: must be a 24-hex-digit ObjectId/,
    ],
  ];

  it('go to wallet.dlq with the validation error, are acked, and change nothing', async () => {
    await wallet.platform.drainDeadLetters();
    const cases = invalidCompleted.map(([name, body, reason]) => ({ name, transactionId: objectId(), body, reason }));
    const completedBefore = await wallet.consumedFrom(QUEUES.transactionCompleted);
    const published = [
      ...cases.map((c) => ({ ...c, body: c.body(c.transactionId) })),
      ...anonymous.map(([name, body, reason]) => ({ name, body, reason })),
    ];
    for (const { body } of published) wallet.platform.publishRaw(EXCHANGES.transactions, ROUTING_KEYS.transactionCompleted, body);
    wallet.platform.publishRaw(EXCHANGES.auth, ROUTING_KEYS.userSignup, { id: 42 });
    wallet.platform.publishRaw(EXCHANGES.transactions, ROUTING_KEYS.transactionFailed, { transactionId: 'tx-1', type: 'TopUp' });
    await wallet.consumedAtLeast(QUEUES.transactionCompleted, completedBefore, published.length);
    await wallet.consumedAtLeast(QUEUES.userSignup, 0, 1);
    await wallet.consumedAtLeast(QUEUES.transactionFailed, 0, 1);

    const letters = await wallet.platform.drainDeadLetters();
    expect(letters).toHaveLength(published.length + 2);
    // Messages in hand are handled concurrently: letters are matched by body, not by order.
    for (const { name, body, reason } of published) {
      const bytes = typeof body === 'string' ? body : JSON.stringify(body);
      const letter = letters.find((l) => l.body === bytes);
      expect({ name, queue: letter?.queue, reason: letter?.reason }).toEqual({
        name,
        queue: QUEUES.transactionCompleted,
        reason: expect.stringMatching(reason),
      });
    }
    expect(letters.filter((letter) => letter.queue !== QUEUES.transactionCompleted)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ queue: QUEUES.userSignup, reason: expect.stringMatching(/^id: /) }),
        expect.objectContaining({ queue: QUEUES.transactionFailed, reason: expect.stringMatching(/^transactionId: /) }),
      ]),
    );

    expect(await wallet.service.stores.ledger.wallets.countDocuments()).toBe(0);
    expect(await wallet.service.stores.ledger.entries.countDocuments()).toBe(0);
    for (const queue of [QUEUES.transactionCompleted, QUEUES.userSignup, QUEUES.transactionFailed]) {
      expect(await wallet.platform.queueDepth(queue)).toMatchObject({ messageCount: 0 });
    }
    const deadLettered = await wallet.service.metrics.deadLettered.get();
    expect(deadLettered.values.reduce((sum, v) => sum + v.value, 0)).toBe(published.length + 2);
  });

  it('that name a valid transaction are also announced Failed, once, with what was wrong', async () => {
    const cases = invalidCompleted.map(([name, body, reason]) => ({ name, transactionId: objectId(), body, reason }));
    for (const { transactionId, body } of cases)
      wallet.platform.publishRaw(EXCHANGES.transactions, ROUTING_KEYS.transactionCompleted, body(transactionId));
    for (const { name, transactionId, reason } of cases) {
      const finalized = await wallet.platform.finalizationOf(transactionId);
      expect({ name, ...finalized }).toEqual({
        name,
        transactionId,
        status: 'Failed',
        reason: expect.stringMatching(new RegExp(`^Rejected by the wallet: ${reason.source}`)),
      });
    }
    await wallet.platform.drainDeadLetters();
    // The record holds each as Failed: a corrected copy arriving later applies nothing.
    const [user] = await wallet.signedUp(1);
    const { transactionId } = cases.find((c) => c.name === 'amount 0')!;
    const before = await wallet.consumedFrom(QUEUES.transactionCompleted);
    wallet.platform.topUp(transactionId, user, 10);
    await wallet.consumedAtLeast(QUEUES.transactionCompleted, before, 1);
    expect(await wallet.balanceOf(user)).toBe(0);
    for (const { transactionId } of cases) expect(wallet.platform.finalizationsOf(transactionId)).toHaveLength(1);
    expect(await wallet.service.stores.records.find(transactionId)).toMatchObject({ status: 'Failed' });
    expect(await wallet.service.stores.ledger.entriesLocatedFor(transactionId)).toEqual([]);
  });

  it('a damaged copy of a transaction already Completed is dead-lettered and contradicts nothing', async () => {
    const [user] = await wallet.signedUp(1);
    const transactionId = objectId();
    wallet.platform.topUp(transactionId, user, 25);
    await wallet.platform.finalizationOf(transactionId);
    const before = await wallet.consumedFrom(QUEUES.transactionCompleted);
    wallet.platform.publishRaw(EXCHANGES.transactions, ROUTING_KEYS.transactionCompleted, {
      transactionId,
      type: 'TopUp',
      userId: user,
      amount: 0,
    });
    await wallet.consumedAtLeast(QUEUES.transactionCompleted, before, 1);
    expect(await wallet.platform.drainDeadLetters()).toEqual([expect.objectContaining({ reason: 'amount: must be at least 1' })]);
    expect(wallet.platform.finalizationsOf(transactionId)).toEqual([{ transactionId, status: 'Completed' }]);
    expect(await wallet.balanceOf(user)).toBe(25);
  });

  it('a valid message published without any properties (as the platform does) is still read', async () => {
    const [user] = await wallet.signedUp(1);
    const transactionId = objectId();
    wallet.platform.publishRaw(EXCHANGES.transactions, ROUTING_KEYS.transactionCompleted, {
      transactionId,
      type: 'TopUp',
      userId: user,
      amount: 3,
    });
    expect(await wallet.platform.finalizationOf(transactionId)).toEqual({ transactionId, status: 'Completed' });
  });
});
