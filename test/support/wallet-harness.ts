import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { connect } from 'amqplib';
import type { WorkerOptions } from '@temporalio/worker';
import { Types } from 'mongoose';
import type { TransactionFinalized } from '../../src/domain';
import { verifyChain, ENTRIES_ONLY, type LedgerEntryDocument, type VoidedLegDocument, walletIdOf } from '../../src/ledger';
import type { OperationsContext } from '../../src/ops/operations-context';
import type { WalletService } from '../../src/service';
import {
  SEARCH_ATTRIBUTES,
  transactionStateQuery,
  transactionWorkflowId,
  type TransactionState,
} from '../../workflows/wallet-transaction/definitions';
import { eventually } from './eventually';
import { objectId } from './ids';
import { PlatformBroker } from './platform-broker';
import { TEST_RABBITMQ_URL } from './tools';
import { startTestService } from './wallet-service';

/**
 * A running wallet service on the real stack, the platform around it (RabbitMQ publisher and
 * finalization listener) and the probes the specifications read: balances, ledgers, workflow state.
 */
export class WalletHarness {
  private constructor(
    readonly service: WalletService,
    readonly platform: PlatformBroker,
    readonly temporal: Client,
  ) {}

  static async start(
    suite: string,
    options: { env?: Record<string, string>; workerInterceptors?: WorkerOptions['interceptors']; workflowBundlePath?: string } = {},
  ): Promise<WalletHarness> {
    const platform = await PlatformBroker.connect();
    await platform.purgeAll();
    const service = await startTestService(suite, options.env, options.workerInterceptors, {
      workflowBundlePath: options.workflowBundlePath,
    });
    const connection = await Connection.connect({ address: process.env.WALLET_TEST_TEMPORAL_ADDRESS! });
    return new WalletHarness(service, platform, new Client({ connection }));
  }

  /** What `npm run ops` works with, on this service's stores and a broker connection of the operator's own (closed by `close`). */
  async operatorContext(): Promise<{ ctx: OperationsContext; close: () => Promise<void> }> {
    const amqp = await connect(TEST_RABBITMQ_URL);
    const ctx: OperationsContext = {
      client: this.temporal,
      stores: this.service.stores,
      ledger: this.service.ledger,
      stalledAfterMs: this.service.config.wallet.reconciliationStalledAfterMinutes * 60_000,
      channel: await amqp.createConfirmChannel(),
    };
    return { ctx, close: () => amqp.close() };
  }

  async stop(): Promise<void> {
    await this.service.stop();
    await this.platform.close();
    await this.temporal.connection.close();
  }

  /** Publishes sign-ups and waits until every wallet exists. */
  async signedUp(count = 1): Promise<string[]> {
    const users = Array.from({ length: count }, () => objectId());
    users.forEach((user) => this.platform.signup(user));
    await eventually(`${count} wallets`, async () => {
      const found = await this.service.stores.ledger.wallets.countDocuments({ userId: { $in: users.map((u) => new Types.ObjectId(u)) } });
      return found === count ? true : undefined;
    });
    return users;
  }

  /** A user whose wallet was created and topped up with `amount`. */
  async fundedUser(amount: number): Promise<string> {
    const [user] = await this.signedUp(1);
    await this.topUp(user, amount);
    return user;
  }

  async topUp(userId: string, amount: number): Promise<TransactionFinalized> {
    const transactionId = objectId();
    this.platform.topUp(transactionId, userId, amount);
    return this.platform.finalizationOf(transactionId);
  }

  /** Publishes a transfer and waits for its first finalization. */
  async transfer(
    fromUserId: string,
    toUserId: string,
    amount: number,
  ): Promise<{ transactionId: string; finalized: TransactionFinalized }> {
    const transactionId = objectId();
    this.platform.transfer(transactionId, fromUserId, toUserId, amount);
    return { transactionId, finalized: await this.platform.finalizationOf(transactionId) };
  }

  /**
   * Publishes a transfer whose credit waits for an operator (the recipient's wallet document is made
   * to disagree with its ledger) and returns once it does; `repair` puts the document right again.
   */
  async transferStuckOnCredit(
    fromUserId: string,
    toUserId: string,
    amount: number,
  ): Promise<{ transactionId: string; repair: () => Promise<void> }> {
    const setRecipientBalance = (balance: number) =>
      this.service.stores.ledger.wallets.updateOne({ _id: walletIdOf(toUserId) }, { $set: { balance } }).exec();
    await setRecipientBalance(5);
    const transactionId = objectId();
    this.platform.transfer(transactionId, fromUserId, toUserId, amount);
    const execution = this.temporal.workflow.getHandle(transactionWorkflowId(transactionId));
    await eventually('the credit to wait for an operator', async () =>
      (await execution.describe()).typedSearchAttributes.get(SEARCH_ATTRIBUTES.status) === 'NeedsOperator' ? true : undefined,
    );
    return { transactionId, repair: async () => void (await setRecipientBalance(0)) };
  }

  async balanceOf(userId: string): Promise<number | undefined> {
    const wallet = await this.service.stores.ledger.wallets
      .findOne({ userId: new Types.ObjectId(userId) })
      .lean()
      .exec();
    return wallet?.balance;
  }

  async ledgerOf(userId: string): Promise<LedgerEntryDocument[]> {
    return this.service.stores.ledger.entries
      .find({ userId: new Types.ObjectId(userId), ...ENTRIES_ONLY })
      .sort({ version: 1 })
      .lean<LedgerEntryDocument[]>()
      .exec();
  }

  async entriesOfTransaction(transactionId: string): Promise<LedgerEntryDocument[]> {
    return this.service.stores.ledger.entries
      .find({ transactionId: new Types.ObjectId(transactionId), ...ENTRIES_ONLY })
      .sort({ createdAt: 1, _id: 1 })
      .lean<LedgerEntryDocument[]>()
      .exec();
  }

  /** The forward legs of a transaction that its Failed decision voided: `<leg> <userId>`. */
  async voidedLegsOf(transactionId: string): Promise<string[]> {
    const voided = await this.service.stores.ledger.entries
      .find({ transactionId: new Types.ObjectId(transactionId), version: { $exists: false } })
      .lean<VoidedLegDocument[]>()
      .exec();
    return voided.map((leg) => `${leg.leg} ${leg.userId.toHexString()}`).sort();
  }

  /** Checks a wallet's ledger as read back: gapless, arithmetic right, and the wallet matching its head. */
  async expectConsistentWallet(userId: string): Promise<void> {
    const entries = await this.ledgerOf(userId);
    verifyChain(userId, entries);
    const wallet = await this.service.stores.ledger.wallets
      .findOne({ userId: new Types.ObjectId(userId) })
      .lean()
      .exec();
    const head = entries[entries.length - 1];
    expect(wallet).not.toBeNull();
    expect({ balance: wallet!.balance, version: wallet!.version }).toEqual({
      balance: head?.balanceAfter ?? 0,
      version: head?.version ?? 0,
    });
  }

  /** Waits until the transaction's latest execution has closed; returns how it closed. */
  async settled(transactionId: string): Promise<string> {
    const workflowId = transactionWorkflowId(transactionId);
    return eventually(`${workflowId} to close`, async () => {
      const status = await this.executionStatus(workflowId);
      return status === 'RUNNING' ? undefined : status;
    });
  }

  /**
   * Deletes the transaction's executions (every run of its id) through the Temporal API, as the
   * namespace's retention does once it runs out, and waits until Temporal no longer knows them.
   */
  async forgetExecutions(transactionId: string): Promise<void> {
    await this.settled(transactionId);
    const workflowId = transactionWorkflowId(transactionId);
    for (let runId = await this.runIdOf(workflowId); runId !== undefined; runId = await this.runIdOf(workflowId)) {
      await this.temporal.workflowService.deleteWorkflowExecution({
        namespace: this.temporal.options.namespace,
        workflowExecution: { workflowId, runId },
      });
      // The dev server takes 20-35 s to carry a deletion out.
      await eventually(
        `run ${runId} of ${workflowId} to be deleted`,
        async () => ((await this.runIdOf(workflowId)) === runId ? undefined : true),
        90_000,
        500,
      );
    }
  }

  private async runIdOf(workflowId: string): Promise<string | undefined> {
    try {
      return (await this.temporal.workflow.getHandle(workflowId).describe()).runId;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return undefined;
      throw error;
    }
  }

  /** The execution's status, or undefined when Temporal does not know it. */
  async executionStatus(workflowId: string): Promise<string | undefined> {
    try {
      return (await this.temporal.workflow.getHandle(workflowId).describe()).status.name;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return undefined;
      throw error;
    }
  }

  async workflowState(transactionId: string): Promise<TransactionState> {
    return this.temporal.workflow.getHandle(transactionWorkflowId(transactionId)).query(transactionStateQuery);
  }

  /** How many messages of a queue the bridge has finished with (acked), whatever the outcome. */
  async consumedFrom(queue: string): Promise<number> {
    const metric = await this.service.metrics.messagesConsumed.get();
    return metric.values.filter((v) => v.labels.queue === queue).reduce((sum, v) => sum + v.value, 0);
  }

  /** Waits until the bridge has finished with `count` more messages of `queue` than `before`. */
  async consumedAtLeast(queue: string, before: number, count: number): Promise<void> {
    await eventually(`${count} messages consumed from ${queue}`, async () =>
      (await this.consumedFrom(queue)) >= before + count ? true : undefined,
    );
  }
}
