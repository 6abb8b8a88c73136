import { Types } from 'mongoose';
import { EXCHANGES, ROUTING_KEYS } from '../../../src/messaging/topology';
import { openStores, type Stores } from '../../../src/stores';
import { verifyChain, ENTRIES_ONLY, type LedgerEntryDocument } from '../../../src/ledger';
import { eventually } from '../../support/eventually';
import { objectId } from '../../support/ids';
import type { ChaosStack } from './chaos-stack';
import { ResilientPlatform } from './resilient-platform';

/** The platform's events and the checks of the money's state, for suites that crash servers. */
export class Scenario {
  readonly topUps = new Map<string, { userId: string; amount: number }>();

  private constructor(
    readonly stack: ChaosStack,
    readonly platform: ResilientPlatform,
    private db: Stores | undefined,
  ) {}

  static async start(stack: ChaosStack): Promise<Scenario> {
    const platform = new ResilientPlatform(stack.rabbitUrl);
    await platform.start();
    return new Scenario(stack, platform, undefined);
  }

  async close(): Promise<void> {
    await this.platform.close();
    await this.db?.close();
  }

  signup(userId: string) {
    return this.platform.publish(EXCHANGES.auth, ROUTING_KEYS.userSignup, { id: userId, email: `${userId}@example.com`, role: 'user' });
  }

  topUp(transactionId: string, userId: string, amount: number) {
    this.topUps.set(transactionId, { userId, amount });
    return this.platform.publish(EXCHANGES.transactions, ROUTING_KEYS.transactionCompleted, {
      transactionId,
      type: 'TopUp',
      userId,
      amount,
    });
  }

  transfer(transactionId: string, fromUserId: string, toUserId: string, amount: number) {
    return this.platform.publish(EXCHANGES.transactions, ROUTING_KEYS.transactionCompleted, {
      transactionId,
      type: 'Transfer',
      fromUserId,
      toUserId,
      amount,
    });
  }

  failed(transactionId: string, type: 'TopUp' | 'Transfer', reason: string) {
    return this.platform.publish(EXCHANGES.transactions, ROUTING_KEYS.transactionFailed, { transactionId, type, reason });
  }

  /** Signs users up and tops each up with `amount`, waiting until every top-up is finalized. */
  async fundedUsers(count: number, amount: number): Promise<string[]> {
    const users = Array.from({ length: count }, () => objectId());
    for (const user of users) await this.signup(user);
    await eventually(
      'the wallets',
      async () =>
        (await (await this.database()).ledger.wallets.countDocuments({ userId: { $in: users.map((u) => new Types.ObjectId(u)) } })) ===
        count
          ? true
          : undefined,
      120_000,
      250,
    );
    const topUps = users.map((user) => ({ transactionId: objectId(), user }));
    for (const { transactionId, user } of topUps) await this.topUp(transactionId, user, amount);
    await this.allFinalized(topUps.map((t) => t.transactionId));
    return users;
  }

  async allFinalized(transactionIds: string[], timeoutMs = 240_000): Promise<void> {
    await eventually(
      `${transactionIds.length} transactions to be finalized`,
      () => (transactionIds.every((id) => this.platform.finalizationsOf(id).length > 0) ? true : undefined),
      timeoutMs,
      250,
    );
  }

  /** The database, opened on first use and reopened after the database server restarts. */
  async database(): Promise<Stores> {
    this.db ??= await openStores(this.stack.mongoUrl);
    return this.db;
  }

  /**
   * The money's invariants, read from the database: every ledger gapless and consistent with its
   * wallet, no negative balance, and the sum of balances equal to what top-ups brought in and kept.
   * Also returns what each transaction's entries add up to (a top-up standing: its amount; undone: 0).
   */
  async checkMoney(): Promise<{
    wallets: number;
    total: number;
    toppedUp: number;
    netByTransaction: Map<string, number>;
    standingByTransaction: Map<string, { standing: string[]; undone: number }>;
    /** Wallet documents behind their ledger's head (allowed; see below). */
    laggingDocuments: number;
  }> {
    const db = await this.database();
    const wallets = await db.ledger.wallets.find().lean().exec();
    const entries = await db.ledger.entries.find(ENTRIES_ONLY).sort({ userId: 1, version: 1 }).lean<LedgerEntryDocument[]>().exec();
    const byUser = new Map<string, LedgerEntryDocument[]>();
    for (const entry of entries) {
      const key = entry.userId.toHexString();
      byUser.set(key, [...(byUser.get(key) ?? []), entry]);
    }
    let total = 0;
    let laggingDocuments = 0;
    for (const wallet of wallets) {
      const ledger = byUser.get(wallet.userId.toHexString()) ?? [];
      verifyChain(wallet.userId.toHexString(), ledger);
      // The document is a projection of one entry of its ledger. Replicas racing to copy entries into
      // it on FerretDB (which rewrites a document whole) can leave it on an older one: the next change
      // of the wallet or the reconciliation rolls it forward, and reads look ahead of it meanwhile.
      const copied = wallet.version === 0 ? { balanceAfter: 0 } : ledger[wallet.version - 1];
      if (!copied || wallet.balance !== copied.balanceAfter || wallet.version > ledger.length) {
        throw new Error(`wallet ${wallet.userId.toHexString()} (${wallet.balance}, v${wallet.version}) is no entry of its ledger`);
      }
      if (wallet.version < ledger.length) laggingDocuments++;
      const balance = ledger.at(-1)?.balanceAfter ?? 0;
      if (balance < 0) throw new Error(`wallet ${wallet.userId.toHexString()} is negative`);
      total += balance;
    }
    // Money enters only through top-ups; what stays is their credits net of their reversals.
    const toppedUp = entries.filter((e) => e.transactionType === 'TopUp').reduce((sum, e) => sum + e.amount, 0);
    const netByTransaction = new Map<string, number>();
    const standingByTransaction = new Map<string, { standing: string[]; undone: number }>();
    for (const [transactionId, legs] of groupByTransaction(entries)) {
      const net = legs.reduce((sum, e) => sum + e.amount, 0);
      if (legs[0].transactionType === 'Transfer' && net !== 0) throw new Error(`transfer ${transactionId} created or destroyed money`);
      netByTransaction.set(transactionId, net);
      standingByTransaction.set(transactionId, standingOf(legs));
    }
    return { wallets: wallets.length, total, toppedUp, netByTransaction, standingByTransaction, laggingDocuments };
  }
}

/** A transaction's forward legs not undone (`debit`, `credit`), and how many undo legs it has. */
function standingOf(legs: LedgerEntryDocument[]): { standing: string[]; undone: number } {
  const undos = legs.filter((e) => e.leg === 'compensation' || e.leg === 'reversal');
  const undoneUsers = new Set(undos.map((e) => e.userId.toHexString()));
  const standing = legs
    .filter((e) => (e.leg === 'debit' || e.leg === 'credit') && !undoneUsers.has(e.userId.toHexString()))
    .map((e) => e.leg);
  return { standing: standing.sort(), undone: undos.length };
}

function groupByTransaction(entries: LedgerEntryDocument[]): Map<string, LedgerEntryDocument[]> {
  const groups = new Map<string, LedgerEntryDocument[]>();
  for (const entry of entries) {
    if (!entry.transactionId) continue;
    const key = entry.transactionId.toHexString();
    groups.set(key, [...(groups.get(key) ?? []), entry]);
  }
  return groups;
}
