import { z } from 'zod';
import { failureReason, type TransactionFinalized } from '../domain';

/** The announcement as the platform must receive it: a `Failed` always with a reason, a `Completed` without. */
export function toAnnouncement(finalized: TransactionFinalized): TransactionFinalized {
  const { transactionId, status } = finalized;
  return status === 'Failed' ? { transactionId, status, reason: failureReason(finalized.reason) } : { transactionId, status };
}

/** One announcement: a transaction's outcome (reasons aside, a status is announced once). */
export function announcementKey(finalized: TransactionFinalized): string {
  return `${finalized.transactionId}:${finalized.status}`;
}

const announcementShape = z.object({
  transactionId: z.string(),
  status: z.enum(['Completed', 'Failed']),
  reason: z.string().optional(),
});

/** Reads back an announcement the wallet published (its echo); undefined for anything else. */
export function decodeFinalization(body: Buffer): TransactionFinalized | undefined {
  try {
    const parsed = announcementShape.safeParse(JSON.parse(body.toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
