import { EXCHANGES, QUEUES, ROUTING_KEYS } from '../../src/messaging/topology';
import { objectId } from '../support/ids';
import { WalletHarness } from '../support/wallet-harness';

const A = objectId();
const T = objectId();

describe('malformed and invalid messages', () => {
  let wallet: WalletHarness;

  beforeAll(async () => {
    wallet = await WalletHarness.start('dead-letters');
  });
  afterAll(async () => {
    await wallet.stop();
  });

  const invalidCompleted: Array<[string, unknown, RegExp]> = [
    ['bad JSON', '{"transactionId": "', /body is not JSON/],
    ['missing fields', { transactionId: T, type: 'TopUp' }, /userId: .*; amount/],
    ['an unknown type', { transactionId: T, type: 'Refund', userId: A, amount: 5 }, /type: must be "TopUp" or "Transfer"/],
    ['amount 0', { transactionId: T, type: 'TopUp', userId: A, amount: 0 }, /amount: must be greater than 0/],
    ['amount -5', { transactionId: T, type: 'TopUp', userId: A, amount: -5 }, /amount: must be greater than 0/],
    ['amount 1.5', { transactionId: T, type: 'TopUp', userId: A, amount: 1.5 }, /amount: must be an integer/],
    ['amount "10"', { transactionId: T, type: 'TopUp', userId: A, amount: '10' }, /amount: must be a number/],
    ['amount 2^60', { transactionId: T, type: 'TopUp', userId: A, amount: 2 ** 60 }, /amount: must be at most Number.MAX_SAFE_INTEGER/],
    ['the same from and to', { transactionId: T, type: 'Transfer', fromUserId: A, toUserId: A, amount: 5 }, /toUserId: must differ/],
    ['a non-ObjectId user', { transactionId: T, type: 'TopUp', userId: 'user-1', amount: 5 }, /userId: must be a 24-hex-digit ObjectId/],
  ];

  it('go to wallet.dlq with the validation error, are acked, and change nothing', async () => {
    await wallet.signedUp(0);
    await wallet.platform.drainDeadLetters();
    const completedBefore = await wallet.consumedFrom(QUEUES.transactionCompleted);
    for (const [, body] of invalidCompleted) wallet.platform.publishRaw(EXCHANGES.transactions, ROUTING_KEYS.transactionCompleted, body);
    wallet.platform.publishRaw(EXCHANGES.auth, ROUTING_KEYS.userSignup, { id: 42 });
    wallet.platform.publishRaw(EXCHANGES.transactions, ROUTING_KEYS.transactionFailed, { transactionId: T, type: 'Chargeback' });
    await wallet.consumedAtLeast(QUEUES.transactionCompleted, completedBefore, invalidCompleted.length);
    await wallet.consumedAtLeast(QUEUES.userSignup, 0, 1);
    await wallet.consumedAtLeast(QUEUES.transactionFailed, 0, 1);

    const letters = await wallet.platform.drainDeadLetters();
    expect(letters).toHaveLength(invalidCompleted.length + 2);
    // Order holds within a queue, not across queues.
    const fromCompleted = letters.filter((letter) => letter.queue === QUEUES.transactionCompleted);
    invalidCompleted.forEach(([name, body, reason], index) => {
      const letter = fromCompleted[index]!;
      expect({ name, queue: letter.queue, reason: letter.reason }).toEqual({ name, queue: QUEUES.transactionCompleted, reason: expect.stringMatching(reason) });
      expect(letter.body).toBe(typeof body === 'string' ? body : JSON.stringify(body));
    });
    expect(letters.filter((letter) => letter.queue !== QUEUES.transactionCompleted)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ queue: QUEUES.userSignup, reason: expect.stringMatching(/^id: /) }),
        expect.objectContaining({ queue: QUEUES.transactionFailed, reason: expect.stringMatching(/^type: /) }),
      ]),
    );

    expect(await wallet.service.db.wallets.countDocuments()).toBe(0);
    expect(await wallet.service.db.ledgerEntries.countDocuments()).toBe(0);
    expect(wallet.platform.finalized).toEqual([]);
    for (const queue of [QUEUES.transactionCompleted, QUEUES.userSignup, QUEUES.transactionFailed]) {
      expect(await wallet.platform.queueDepth(queue)).toMatchObject({ messageCount: 0 });
    }
    const deadLettered = await wallet.service.metrics.deadLettered.get();
    expect(deadLettered.values.reduce((sum, v) => sum + v.value, 0)).toBe(invalidCompleted.length + 2);
  });

  it('a valid message published without any properties (as the platform does) is still read', async () => {
    const [user] = await wallet.signedUp(1);
    const transactionId = objectId();
    wallet.platform.publishRaw(EXCHANGES.transactions, ROUTING_KEYS.transactionCompleted, { transactionId, type: 'TopUp', userId: user, amount: 3 });
    expect(await wallet.platform.finalizationOf(transactionId)).toEqual({ transactionId, status: 'Completed' });
  });
});
