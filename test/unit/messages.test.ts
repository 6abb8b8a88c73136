import { PLATFORM_AMOUNT_LIMITS } from '../../src/config';
import { createMessageDecoder } from '../../src/messaging/messages';
import { QUEUES } from '../../src/messaging/topology';

const A = '665f1c2ab7e4a1d2c3b4a5f6';
const B = '665f1c2ab7e4a1d2c3b4a5f7';
const T = '665f1c2ab7e4a1d2c3b4a5f8';
const body = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
const decodeMessage = createMessageDecoder({ maxMessageBytes: 65536, amountLimits: PLATFORM_AMOUNT_LIMITS });
const completed = (value: unknown) => decodeMessage(QUEUES.transactionCompleted, body(value));

describe('decoding the messages of CONTRACT.md', () => {
  it('reads a sign-up user object, keeping only the id', () => {
    const decoded = decodeMessage(QUEUES.userSignup, body({ id: A, firstName: 'Ada', role: 'user', emailVerifiedAt: null }));
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
    expect(decodeMessage(QUEUES.transactionFailed, body({ transactionId: T, type: 'Transfer', reason: 'Timeout' }))).toEqual({
      ok: true,
      message: { kind: 'transactionFailed', event: { transactionId: T, type: 'Transfer', reason: 'Timeout' } },
    });
    expect(decodeMessage(QUEUES.transactionFailed, body({ transactionId: T, type: 'TopUp' }))).toMatchObject({
      ok: true,
      message: { event: { reason: 'Transaction failed' } },
    });
  });

  it('reads a transaction.failed whose type is missing or unknown as one without a type: the rollback needs only its id', () => {
    for (const type of [undefined, null, 'Refund', 7]) {
      expect(decodeMessage(QUEUES.transactionFailed, body({ transactionId: T, type, reason: 'Timeout' }))).toEqual({
        ok: true,
        message: { kind: 'transactionFailed', event: { transactionId: T, type: null, reason: 'Timeout' } },
      });
    }
  });

  it('dead-letters a transaction.failed that names no transaction, with the reason', () => {
    for (const value of [{ type: 'TopUp', reason: 'Timeout' }, { transactionId: 'tx-1', type: 'TopUp' }, [1], null]) {
      expect(decodeMessage(QUEUES.transactionFailed, body(value))).toEqual({
        ok: false,
        reason: expect.stringMatching(/transactionId|body/),
      });
    }
  });

  it('reads a transaction.failed whose reason is missing, empty, blank or not text with the default reason', () => {
    for (const reason of [undefined, '', '   ', null, 42]) {
      expect(decodeMessage(QUEUES.transactionFailed, body({ transactionId: T, type: 'TopUp', reason }))).toMatchObject({
        ok: true,
        message: { event: { reason: 'Transaction failed' } },
      });
    }
  });

  it.each([
    ['a missing amount', { transactionId: T, type: 'TopUp', userId: A }, /amount/],
    ['an unknown type', { transactionId: T, type: 'Refund', userId: A, amount: 5 }, /type/],
    ['amount 0', { transactionId: T, type: 'TopUp', userId: A, amount: 0 }, /amount: must be at least 1/],
    ['amount -5', { transactionId: T, type: 'TopUp', userId: A, amount: -5 }, /amount: must be at least 1/],
    ['amount 1.5', { transactionId: T, type: 'TopUp', userId: A, amount: 1.5 }, /amount: must be an integer/],
    ['amount "10"', { transactionId: T, type: 'TopUp', userId: A, amount: '10' }, /amount/],
    ['a top-up over 100,000', { transactionId: T, type: 'TopUp', userId: A, amount: 100_001 }, /amount: must be at most 100000/],
    [
      'a transfer over 50,000',
      { transactionId: T, type: 'Transfer', fromUserId: A, toUserId: B, amount: 50_001 },
      /amount: must be at most 50000/,
    ],
    ['a transfer to oneself', { transactionId: T, type: 'Transfer', fromUserId: A, toUserId: A, amount: 5 }, /toUserId: must differ/],
    ['a transfer without a sender', { transactionId: T, type: 'Transfer', toUserId: B, amount: 5 }, /fromUserId/],
  ])('rejects %s, naming its transaction so that it can be announced Failed', (_case, value, problem) => {
    const decoded = completed(value);
    expect(decoded).toEqual({
      ok: true,
      message: { kind: 'transactionRejected', transactionId: T, problem: expect.stringMatching(problem) },
    });
  });

  it('takes the amount limits from its configuration', () => {
    const strict = createMessageDecoder({
      maxMessageBytes: 65536,
      amountLimits: { topUp: { min: 10, max: 20 }, transfer: { min: 1, max: 5 } },
    });
    const topUp = (amount: number) => strict(QUEUES.transactionCompleted, body({ transactionId: T, type: 'TopUp', userId: A, amount }));
    expect(topUp(9)).toMatchObject({ message: { kind: 'transactionRejected', problem: 'amount: must be at least 10' } });
    expect(topUp(20)).toMatchObject({ message: { kind: 'transactionCompleted' } });
    expect(topUp(21)).toMatchObject({ message: { kind: 'transactionRejected', problem: 'amount: must be at most 20' } });
  });

  it.each([
    ['bad JSON', '{"transactionId":', /not JSON/],
    [
      'an id that is not an ObjectId',
      { transactionId: 'tx-1', type: 'TopUp', userId: A, amount: 5 },
      /transactionId: must be a 24-hex-digit ObjectId/,
    ],
    ['a missing transactionId', { type: 'TopUp', userId: A, amount: 5 }, /transactionId/],
    ['a JSON array', [1, 2], /body|type/],
    ['JSON null', 'null', /body|type/],
  ])('dead-letters %s, which names no transaction, with the reason', (_case, value, reason) => {
    const decoded = completed(value);
    expect(decoded.ok).toBe(false);
    expect(decoded.ok ? '' : decoded.reason).toMatch(reason);
  });

  it('rejects a body over the size limit without parsing it', () => {
    const small = createMessageDecoder({ maxMessageBytes: 256, amountLimits: PLATFORM_AMOUNT_LIMITS });
    expect(small(QUEUES.userSignup, Buffer.alloc(300, 0x20))).toEqual({ ok: false, reason: 'message body of 300 bytes exceeds 256' });
  });
});
