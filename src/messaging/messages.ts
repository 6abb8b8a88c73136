import { z } from 'zod';
import { failureReason, type TransactionCompleted, type TransactionFailed, canonicalObjectId, OBJECT_ID_HEX } from '../domain';
import type { AmountLimits } from '../config';
import { QUEUES, type ConsumedQueue } from './topology';

// The messages the wallet consumes, validated to the shapes of ../shared/CONTRACT.md.

const objectId = z.string().regex(OBJECT_ID_HEX, 'must be a 24-hex-digit ObjectId');
const MAX_REASON_LENGTH = 500;

export interface DecoderOptions {
  maxMessageBytes: number;
  amountLimits: AmountLimits;
}

const amountWithin = ({ min, max }: { min: number; max: number }) =>
  z.number({ error: 'must be a number' }).int('must be an integer').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

const userSignup = z.object({ id: objectId });

function transactionCompletedSchema(limits: AmountLimits) {
  const topUpCompleted = z.object({
    transactionId: objectId,
    type: z.literal('TopUp'),
    userId: objectId,
    amount: amountWithin(limits.topUp),
  });
  const transferCompleted = z
    .object({
      transactionId: objectId,
      type: z.literal('Transfer'),
      fromUserId: objectId,
      toUserId: objectId,
      amount: amountWithin(limits.transfer),
    })
    .refine((t) => t.fromUserId.toLowerCase() !== t.toUserId.toLowerCase(), {
      message: 'must differ from fromUserId',
      path: ['toUserId'],
    });
  return z.discriminatedUnion('type', [topUpCompleted, transferCompleted], {
    error: 'must be "TopUp" or "Transfer"',
  });
}

// The rollback matters more than its description: it needs only the transactionId, so a missing or
// unknown type is read as none, and a missing, empty or non-text reason gets a default.
const transactionFailed = z.object({
  transactionId: objectId,
  type: z
    .unknown()
    .optional()
    .transform((type) => (type === 'TopUp' || type === 'Transfer' ? type : null)),
  reason: z
    .unknown()
    .optional()
    .transform((reason) => failureReason(typeof reason === 'string' ? reason.slice(0, MAX_REASON_LENGTH) : undefined)),
});

export type ConsumedMessage =
  | { kind: 'userSignup'; userId: string }
  | { kind: 'transactionCompleted'; event: TransactionCompleted }
  | { kind: 'transactionFailed'; event: TransactionFailed }
  /** A `transaction.completed` that cannot be applied, but names its transaction: it is dead-lettered and announced Failed. */
  | { kind: 'transactionRejected'; transactionId: string; problem: string };

export type Decoded = { ok: true; message: ConsumedMessage } | { ok: false; reason: string };

/** Parses and validates message bodies from the wallet's queues, whatever their properties say. */
export function createMessageDecoder({ maxMessageBytes, amountLimits }: DecoderOptions): (queue: ConsumedQueue, body: Buffer) => Decoded {
  const transactionCompleted = transactionCompletedSchema(amountLimits);
  return (queue, body) => {
    if (body.length > maxMessageBytes) return { ok: false, reason: `message body of ${body.length} bytes exceeds ${maxMessageBytes}` };
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (error) {
      return { ok: false, reason: `body is not JSON: ${(error as Error).message}` };
    }
    switch (queue) {
      case QUEUES.userSignup: {
        const parsed = userSignup.safeParse(json);
        return parsed.success
          ? { ok: true, message: { kind: 'userSignup', userId: parsed.data.id.toLowerCase() } }
          : { ok: false, reason: describe(parsed.error) };
      }
      case QUEUES.transactionCompleted: {
        const parsed = transactionCompleted.safeParse(json);
        if (parsed.success) return { ok: true, message: { kind: 'transactionCompleted', event: normalizeIds(parsed.data) } };
        const transactionId = transactionIdOf(json);
        const problem = describe(parsed.error);
        return transactionId
          ? { ok: true, message: { kind: 'transactionRejected', transactionId, problem } }
          : { ok: false, reason: problem };
      }
      case QUEUES.transactionFailed: {
        const parsed = transactionFailed.safeParse(json);
        return parsed.success
          ? { ok: true, message: { kind: 'transactionFailed', event: normalizeIds(parsed.data) } }
          : { ok: false, reason: describe(parsed.error) };
      }
    }
  };
}

/** The transactionId of a message that is otherwise invalid, when it is a valid ObjectId. */
function transactionIdOf(json: unknown): string | undefined {
  const id = typeof json === 'object' && json !== null ? (json as { transactionId?: unknown }).transactionId : undefined;
  return canonicalObjectId(id);
}

/** ObjectIds are case-insensitive hex; one spelling keeps workflow ids and ledger keys unique. */
function normalizeIds<T extends object>(message: T): T {
  const copy = { ...message } as Record<string, unknown>;
  for (const key of ['transactionId', 'userId', 'fromUserId', 'toUserId']) {
    if (typeof copy[key] === 'string') copy[key] = copy[key].toLowerCase();
  }
  return copy as T;
}

function describe(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'body'}: ${issue.message}`).join('; ');
}
