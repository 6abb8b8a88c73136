import { decodeMessage } from '../../src/messaging/messages';
import { QUEUES } from '../../src/messaging/topology';

const A = '665f1c2ab7e4a1d2c3b4a5f6';
const B = '665f1c2ab7e4a1d2c3b4a5f7';
const T = '665f1c2ab7e4a1d2c3b4a5f8';
const body = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
const completed = (value: unknown) => decodeMessage(QUEUES.transactionCompleted, body(value), 65536);

describe('decoding the messages of CONTRACT.md', () => {
  it('reads a sign-up user object, keeping only the id', () => {
    const decoded = decodeMessage(QUEUES.userSignup, body({ id: A, firstName: 'Ada', role: 'user', emailVerifiedAt: null }), 65536);
    expect(decoded).toEqual({ ok: true, message: { kind: 'userSignup', userId: A } });
  });

  it('reads top-ups and transfers', () => {
    expect(completed({ transactionId: T, type: 'TopUp', userId: A, amount: 1000 })).toEqual({
      ok: true,
      message: { kind: 'transactionCompleted', event: { transactionId: T, type: 'TopUp', userId: A, amount: 1000 } },
    });
    expect(completed({ transactionId: T, type: 'Transfer', fromUserId: A, toUserId: B, amount: 250 })).toMatchObject({
      ok: true,
      message: { event: { type: 'Transfer', fromUserId: A, toUserId: B, amount: 250 } },
    });
  });

  it('spells ObjectIds in lower case so one transaction has one workflow', () => {
    const decoded = completed({ transactionId: T.toUpperCase(), type: 'TopUp', userId: A.toUpperCase(), amount: 1 });
    expect(decoded).toMatchObject({ ok: true, message: { event: { transactionId: T, userId: A } } });
  });

  it('reads transaction.failed, defaulting a missing reason', () => {
    expect(decodeMessage(QUEUES.transactionFailed, body({ transactionId: T, type: 'Transfer', reason: 'Timeout' }), 65536)).toEqual({
      ok: true,
      message: { kind: 'transactionFailed', event: { transactionId: T, type: 'Transfer', reason: 'Timeout' } },
    });
    expect(decodeMessage(QUEUES.transactionFailed, body({ transactionId: T, type: 'TopUp' }), 65536)).toMatchObject({
      ok: true,
      message: { event: { reason: 'Transaction failed' } },
    });
  });

  it.each([
    ['bad JSON', '{"transactionId":', /not JSON/],
    ['a missing amount', { transactionId: T, type: 'TopUp', userId: A }, /amount/],
    ['an unknown type', { transactionId: T, type: 'Refund', userId: A, amount: 5 }, /type/],
    ['amount 0', { transactionId: T, type: 'TopUp', userId: A, amount: 0 }, /amount: must be greater than 0/],
    ['amount -5', { transactionId: T, type: 'TopUp', userId: A, amount: -5 }, /amount: must be greater than 0/],
    ['amount 1.5', { transactionId: T, type: 'TopUp', userId: A, amount: 1.5 }, /amount: must be an integer/],
    ['amount "10"', { transactionId: T, type: 'TopUp', userId: A, amount: '10' }, /amount/],
    ['amount 2^60', { transactionId: T, type: 'TopUp', userId: A, amount: 2 ** 60 }, /amount: must be at most/],
    ['a transfer to oneself', { transactionId: T, type: 'Transfer', fromUserId: A, toUserId: A, amount: 5 }, /toUserId: must differ/],
    ['an id that is not an ObjectId', { transactionId: 'tx-1', type: 'TopUp', userId: A, amount: 5 }, /transactionId: must be a 24-hex-digit ObjectId/],
    ['a JSON array', [1, 2], /body|type/],
    ['JSON null', 'null', /body|type/],
  ])('rejects %s with the reason', (_case, value, reason) => {
    const decoded = completed(value);
    expect(decoded.ok).toBe(false);
    expect(decoded.ok ? '' : decoded.reason).toMatch(reason);
  });

  it('rejects a body over the size limit without parsing it', () => {
    const decoded = decodeMessage(QUEUES.userSignup, Buffer.alloc(300, 0x20), 256);
    expect(decoded).toEqual({ ok: false, reason: 'message body of 300 bytes exceeds 256' });
  });
});
