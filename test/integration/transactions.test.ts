import { Types } from 'mongoose';
import { QUEUES } from '../../src/messaging/topology';
import { transactionWorkflowId } from '../../workflows/wallet-transaction/definitions';
import { objectId } from '../support/ids';
import { WalletHarness } from '../support/wallet-harness';
import { eventually } from '../support/eventually';

describe('transactions from RabbitMQ events to finalization', () => {
  let wallet: WalletHarness;

  beforeAll(async () => {
    wallet = await WalletHarness.start('transactions');
  });
  afterAll(async () => {
    await wallet.stop();
  });

  describe('user.signup', () => {
    it('creates a wallet with balance 0', async () => {
      const [user] = await wallet.signedUp(1);
      const created = await wallet.service.stores.ledger.wallets
        .findOne({ userId: new Types.ObjectId(user) })
        .lean()
        .exec();
      expect(created).toMatchObject({ balance: 0, version: 0 });
    });

    it('changes nothing when the same sign-up comes again', async () => {
      const [user] = await wallet.signedUp(1);
      const first = await wallet.service.stores.ledger.wallets
        .findOne({ userId: new Types.ObjectId(user) })
        .lean()
        .exec();
      const before = await wallet.consumedFrom(QUEUES.userSignup);
      wallet.platform.signup(user);
      wallet.platform.signup(user);
      await wallet.consumedAtLeast(QUEUES.userSignup, before, 2);
      const all = await wallet.service.stores.ledger.wallets
        .find({ userId: new Types.ObjectId(user) })
        .lean()
        .exec();
      expect(all).toEqual([first]);
    });
  });

  describe('transaction.completed', () => {
    it('credits a top-up and finalizes it Completed', async () => {
      const [user] = await wallet.signedUp(1);
      const transactionId = objectId();
      wallet.platform.topUp(transactionId, user, 1000);
      expect(await wallet.platform.finalizationOf(transactionId)).toEqual({ transactionId, status: 'Completed' });
      expect(await wallet.balanceOf(user)).toBe(1000);
      expect(await wallet.entriesOfTransaction(transactionId)).toMatchObject([
        { leg: 'credit', amount: 1000, balanceAfter: 1000, version: 1, transactionType: 'TopUp', counterpartyUserId: null },
      ]);
      await wallet.expectConsistentWallet(user);
    });

    it('moves a transfer from sender to recipient and finalizes it Completed', async () => {
      const sender = await wallet.fundedUser(1000);
      const [recipient] = await wallet.signedUp(1);
      const { transactionId, finalized } = await wallet.transfer(sender, recipient, 250);
      expect(finalized).toEqual({ transactionId, status: 'Completed' });
      expect(await wallet.balanceOf(sender)).toBe(750);
      expect(await wallet.balanceOf(recipient)).toBe(250);
      const entries = await wallet.entriesOfTransaction(transactionId);
      expect(entries.map((e) => [e.leg, e.userId.toHexString(), e.amount, e.counterpartyUserId?.toHexString()])).toEqual([
        ['debit', sender, -250, recipient],
        ['credit', recipient, 250, sender],
      ]);
      await wallet.expectConsistentWallet(sender);
      await wallet.expectConsistentWallet(recipient);
    });

    it('finalizes a transfer over the balance Failed "Insufficient balance" and changes no balance', async () => {
      const sender = await wallet.fundedUser(100);
      const [recipient] = await wallet.signedUp(1);
      const { transactionId, finalized } = await wallet.transfer(sender, recipient, 101);
      expect(finalized).toEqual({ transactionId, status: 'Failed', reason: 'Insufficient balance' });
      expect(await wallet.balanceOf(sender)).toBe(100);
      expect(await wallet.balanceOf(recipient)).toBe(0);
      expect(await wallet.entriesOfTransaction(transactionId)).toEqual([]);
    });

    it('refuses a transfer over the balance on its first attempt: local activities only, the Failed recorded before the debit is voided', async () => {
      const sender = await wallet.fundedUser(20);
      const [recipient] = await wallet.signedUp(1);
      const { transactionId } = await wallet.transfer(sender, recipient, 21);
      const handle = wallet.temporal.workflow.getHandle(transactionWorkflowId(transactionId));
      await handle.result();
      const events = (await handle.fetchHistory()).events ?? [];
      const scheduled = events
        .filter((e) => e.activityTaskScheduledEventAttributes)
        .map((e) => e.activityTaskScheduledEventAttributes!.activityType?.name);
      expect(scheduled).toEqual([]);
      // Opening the record with the refused debit (straight-through processing stops there), the
      // decision, the debit's void, the announcement: each one local activity.
      const steps = events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
      expect(steps.map(localActivityType)).toEqual(['processStraightThrough', 'recordDecision', 'voidLeg', 'announceOutcome']);
    });

    it('describes a transfer when its execution starts and updates the description once, when it is announced', async () => {
      const sender = await wallet.fundedUser(50);
      const [recipient] = await wallet.signedUp(1);
      const { transactionId } = await wallet.transfer(sender, recipient, 5);
      const handle = wallet.temporal.workflow.getHandle(transactionWorkflowId(transactionId));
      await handle.result();
      const events = (await handle.fetchHistory()).events ?? [];
      const started = events[0].workflowExecutionStartedEventAttributes!;
      expect(Object.keys(started.searchAttributes?.indexedFields ?? {}).sort()).toEqual([
        'WalletStatus',
        'WalletTransactionId',
        'WalletTransactionType',
        'WalletUserIds',
      ]);
      expect(Object.keys(started.memo?.fields ?? {})).toEqual(['transaction']);
      // The status once announced, and the straight-through patch's own TemporalChangeVersion.
      const upserted = events.flatMap((e) =>
        Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}),
      );
      expect(upserted.sort()).toEqual(['TemporalChangeVersion', 'WalletStatus']);
      expect(events.filter((e) => e.workflowPropertiesModifiedEventAttributes)).toHaveLength(1);
      // Processed straight through: one local activity, under one patch marker.
      const steps = events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
      expect(steps.map(localActivityType)).toEqual(['processStraightThrough']);
      expect(events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')).toHaveLength(1);
    });

    it('compensates the debit of a transfer to a user without a wallet and finalizes it Failed', async () => {
      const sender = await wallet.fundedUser(500);
      const stranger = objectId();
      const { transactionId, finalized } = await wallet.transfer(sender, stranger, 200);
      expect(finalized).toEqual({ transactionId, status: 'Failed', reason: 'Recipient wallet not found' });
      expect(await wallet.balanceOf(sender)).toBe(500);
      expect((await wallet.entriesOfTransaction(transactionId)).map((e) => [e.leg, e.amount, e.balanceAfter])).toEqual([
        ['debit', -200, 300],
        ['compensation', 200, 500],
      ]);
      await wallet.expectConsistentWallet(sender);
    });

    it('finalizes a transfer from a user without a wallet Failed and changes nothing', async () => {
      const [recipient] = await wallet.signedUp(1);
      const { transactionId, finalized } = await wallet.transfer(objectId(), recipient, 10);
      expect(finalized).toEqual({ transactionId, status: 'Failed', reason: 'Sender wallet not found' });
      expect(await wallet.entriesOfTransaction(transactionId)).toEqual([]);
    });

    it('finalizes a top-up to a user without a wallet Failed "Wallet not found"', async () => {
      const transactionId = objectId();
      wallet.platform.topUp(transactionId, objectId(), 10);
      expect(await wallet.platform.finalizationOf(transactionId)).toEqual({ transactionId, status: 'Failed', reason: 'Wallet not found' });
    });

    it('lets operators find the execution by transaction, user, type and outcome, and query its legs', async () => {
      const sender = await wallet.fundedUser(300);
      const [recipient] = await wallet.signedUp(1);
      const { transactionId } = await wallet.transfer(sender, recipient, 120);
      const state = await wallet.workflowState(transactionId);
      expect(state).toMatchObject({
        transactionId,
        status: 'Completed',
        step: 'closed',
        legs: [
          { leg: 'debit', userId: sender, amount: -120 },
          { leg: 'credit', userId: recipient, amount: 120 },
        ],
        finalizations: [{ status: 'Completed' }],
      });
      const query = `WalletTransactionId = "${transactionId}" AND WalletUserIds = "${recipient}" AND WalletTransactionType = "Transfer" AND WalletStatus = "Completed"`;
      const found = await waitForListing(query);
      expect(found).toEqual([`wallet-transaction-${transactionId}`]);
      const { memo } = await wallet.temporal.workflow.getHandle(found[0]).describe();
      expect(memo).toMatchObject({
        transaction: { type: 'Transfer', amount: 120, fromUserId: sender, toUserId: recipient },
        outcome: { status: 'Completed' },
        legs: [expect.stringMatching(/^debit -120 user /), expect.stringMatching(/^credit 120 user /)],
      });
    });
  });

  async function waitForListing(query: string): Promise<string[]> {
    return eventually(
      `an execution listed by ${query}`,
      async () => {
        const ids: string[] = [];
        for await (const execution of wallet.temporal.workflow.list({ query })) ids.push(execution.workflowId);
        return ids.length > 0 ? ids : undefined;
      },
      15_000,
      200,
    );
  }
});

/** The activity type a local activity's marker records. */
function localActivityType(event: {
  markerRecordedEventAttributes?: {
    details?: Record<string, { payloads?: Array<{ data?: Uint8Array | null } | null> | null } | null> | null;
  } | null;
}): string {
  const data = event.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
  return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type: string }).activity_type : '?';
}
