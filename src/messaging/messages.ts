import { z } from 'zod';
import type { TransactionCompleted, TransactionFailed, TransactionFinalized } from '../domain/transaction';
import { QUEUES, type ConsumedQueue } from './topology';

// The messages the wallet consumes, validated to the shapes of ../shared/CONTRACT.md.

const objectId = z.string().regex(/^[0-9a-fA-F]{24}$/, 'must be a 24-hex-digit ObjectId');
const amount = z
  .number({ error: 'must be a number' })
  .int('must be an integer')
  .positive('must be greater than 0')
  .max(Number.MAX_SAFE_INTEGER, 'must be at most Number.MAX_SAFE_INTEGER');
const MAX_REASON_LENGTH = 500;

const userSignup = z.object({ id: objectId });

const topUpCompleted = z.object({
  transactionId: objectId,
  type: z.literal('TopUp'),
  userId: objectId,
  amount,
});

const transferCompleted = z
  .object({
    transactionId: objectId,
    type: z.literal('Transfer'),
    fromUserId: objectId,
    toUserId: objectId,
    amount,
  })
  .refine((t) => t.fromUserId.toLowerCase() !== t.toUserId.toLowerCase(), {
    message: 'must differ from fromUserId',
    path: ['toUserId'],
  });

const transactionCompleted = z.discriminatedUnion('type', [topUpCompleted, transferCompleted], {
  error: 'must be "TopUp" or "Transfer"',
});

const transactionFailed = z.object({
  transactionId: objectId,
  type: z.enum(['TopUp', 'Transfer'], { error: 'must be "TopUp" or "Transfer"' }),
  // The rollback matters more than its explanation: a missing reason gets a default, not a rejection.
  reason: z
    .string()
    .trim()
    .min(1)
    .transform((reason) => reason.slice(0, MAX_REASON_LENGTH))
    .default('Transaction failed'),
});

export type ConsumedMessage =
  | { kind: 'userSignup'; userId: string }
  | { kind: 'transactionCompleted'; event: TransactionCompleted }
  | { kind: 'transactionFailed'; event: TransactionFailed };

export type Decoded = { ok: true; message: ConsumedMessage } | { ok: false; reason: string };

/** Parses and validates a message body from one of the wallet's queues, whatever its properties say. */
export function decodeMessage(queue: ConsumedQueue, body: Buffer, maxBytes: number): Decoded {
  if (body.length > maxBytes) return { ok: false, reason: `message body of ${body.length} bytes exceeds ${maxBytes}` };
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
      return parsed.success
        ? { ok: true, message: { kind: 'transactionCompleted', event: normalizeIds(parsed.data) } }
        : { ok: false, reason: describe(parsed.error) };
    }
    case QUEUES.transactionFailed: {
      const parsed = transactionFailed.safeParse(json);
      return parsed.success
        ? { ok: true, message: { kind: 'transactionFailed', event: normalizeIds(parsed.data) } }
        : { ok: false, reason: describe(parsed.error) };
    }
  }
}

/** ObjectIds are case-insensitive hex; one spelling keeps workflow ids and ledger keys unique. */
function normalizeIds<T extends object>(message: T): T {
  const copy = { ...message } as Record<string, unknown>;
  for (const key of ['transactionId', 'userId', 'fromUserId', 'toUserId']) {
    if (typeof copy[key] === 'string') copy[key] = (copy[key] as string).toLowerCase();
  }
  return copy as T;
}

function describe(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'body'}: ${issue.message}`)
    .join('; ');
}

const transactionFinalized = z.object({
  transactionId: z.string(),
  status: z.enum(['Completed', 'Failed']),
  reason: z.string().optional(),
});

/** Reads back an announcement the wallet published (its echo); undefined for anything else. */
export function decodeFinalization(body: Buffer): TransactionFinalized | undefined {
  try {
    const parsed = transactionFinalized.safeParse(JSON.parse(body.toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
