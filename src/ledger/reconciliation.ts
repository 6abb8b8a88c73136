import type { ReconciliationReport, WalletDrift } from '../../workflows/contract';
import { verifyChain, type ChainLink } from './ledger-chain';
import type { LedgerEntryDocument } from './ledger-entry.model';
import type { LedgerStore } from './ledger-store';

/** Offending wallets reported at most, so a report stays readable (and fits a workflow failure). */
const MAX_REPORTED = 50;

/**
 * Checks every wallet against its ledger (balance = last balanceAfter = sum of amounts, versions
 * gapless) and the platform against itself (sum of balances = money topped up; every transfer
 * nets to zero). One pass over the entries, in any order; memory grows with the number of entries.
 */
export async function reconcile(store: LedgerStore, rollForward: (userId: string) => Promise<unknown>): Promise<ReconciliationReport> {
  const chains = new Map<string, ChainLink[]>();
  const transfers = new Map<string, number>();
  let entries = 0;
  let toppedUp = 0;
  for await (const entry of store.entries.find().lean<LedgerEntryDocument>().cursor()) {
    entries++;
    const userId = entry.userId.toHexString();
    const chain = chains.get(userId) ?? [];
    chain.push({ version: entry.version, amount: entry.amount, balanceAfter: entry.balanceAfter });
    chains.set(userId, chain);
    if (entry.leg === 'opening' || entry.transactionType === 'TopUp') toppedUp += entry.amount;
    if (entry.transactionType === 'Transfer' && entry.transactionId) {
      const id = entry.transactionId.toHexString();
      transfers.set(id, (transfers.get(id) ?? 0) + entry.amount);
    }
  }

  const drift: WalletDrift[] = [];
  const repaired: string[] = [];
  let wallets = 0;
  let totalBalance = 0;
  for await (const wallet of store.wallets.find().lean().cursor()) {
    wallets++;
    totalBalance += wallet.balance;
    const userId = wallet.userId.toHexString();
    const chain = (chains.get(userId) ?? []).sort((a, b) => a.version - b.version);
    chains.delete(userId);
    const problem = walletProblem(userId, wallet, chain);
    if (problem === BEHIND) {
      await rollForward(userId);
      repaired.push(userId);
      totalBalance += chain.at(-1)!.balanceAfter - wallet.balance;
    } else if (problem) drift.push({ userId, problem });
  }
  for (const userId of chains.keys()) drift.push({ userId, problem: 'ledger entries without a wallet' });

  const unbalancedTransfers = [...transfers].filter(([, sum]) => sum !== 0).map(([id]) => id);
  const ok = drift.length === 0 && unbalancedTransfers.length === 0 && totalBalance === toppedUp;
  return {
    checkedAt: new Date().toISOString(),
    wallets,
    entries,
    totalBalance,
    toppedUp,
    unbalancedTransfers: unbalancedTransfers.slice(0, MAX_REPORTED),
    drift: drift.slice(0, MAX_REPORTED),
    repaired: repaired.slice(0, MAX_REPORTED),
    truncated: drift.length > MAX_REPORTED || unbalancedTransfers.length > MAX_REPORTED,
    ok,
  };
}

const BEHIND = 'behind its ledger';

function walletProblem(userId: string, wallet: { balance: number; version: number }, chain: ChainLink[]): string | undefined {
  try {
    verifyChain(userId, chain);
  } catch (error) {
    return (error as Error).message;
  }
  const head = chain.at(-1);
  const sum = chain.reduce((total, link) => total + link.amount, 0);
  if ((head?.balanceAfter ?? 0) !== sum) return `last balanceAfter ${head?.balanceAfter} differs from the sum of amounts ${sum}`;
  if (wallet.balance < 0) return `negative balance ${wallet.balance}`;
  const copied = chain[wallet.version - 1];
  if (head && wallet.version < head.version && (wallet.version === 0 ? wallet.balance === 0 : copied?.balanceAfter === wallet.balance)) {
    return BEHIND;
  }
  if (wallet.version !== (head?.version ?? 0) || wallet.balance !== (head?.balanceAfter ?? 0)) {
    return `wallet says ${wallet.balance} at version ${wallet.version}, its ledger ${head?.balanceAfter ?? 0} at version ${head?.version ?? 0}`;
  }
  return undefined;
}
