// The operators' command line: npm run ops -- <command> (or node dist/src/ops/cli.js <command>).
// It talks to the servers the environment names, like the service itself.
import { Client, Connection } from '@temporalio/client';
import { connect } from 'amqplib';
import { ConfigError, loadConfig } from '../config';
import { Ledger } from '../ledger/ledger';
import { createMetrics } from '../metrics';
import { openStores } from '../stores';
import {
  listDeadLetters,
  listStuck,
  reconcileNow,
  replayDeadLetters,
  resetTransaction,
  retryTransaction,
  showTransaction,
  FinalTransactionError,
  type OperationsContext,
  type OperatorOverride,
} from './operations';
import { verifyLedger } from './verification';
import { canonicalObjectId } from '../domain';

const USAGE = `usage: npm run ops -- <command>
  show <transactionId>          the execution, its state and legs, and the ledger entries
  stuck [minutes]               running transactions Pending longer than minutes (default 5) or NeedsOperator,
                                and executions that closed leaving theirs unsettled (terminated, failed, timed out)
  retry <transactionId>         signal operatorRetry: run the step waiting for an operator again
  reset <transactionId> <why>   rerun the execution from its start (applied legs are not applied twice)
  verify [--user ID] [--after WALLET] [--head VERSION:HASH]
                                re-walk the ledger's hash chains, every wallet (in slices: --after resumes) or one,
                                naming the first entry changed; --head checks a kept statement's closing (exit 1 if not)
  reconcile [--full]            check what changed since the last pass (--full: every wallet from its first entry)
                                against the ledger, its chain and money conservation (exit 1 on drift)
  dlq list [n]                  the first n dead letters with their reasons (default 20)
  dlq replay [n]                publish the first n dead letters again to their origin (default 1);
                                exit 1 when some were kept in the queue (the output says why)
--force                         retry, reset or replay though the transaction record says it is final
                                (see docs/operations.md: the record still decides what moves)`;

async function main(argv: string[]): Promise<number> {
  const force = argv.includes('--force');
  const [command, ...args] = argv.filter((arg) => arg !== '--force');
  if (!command || command === 'help' || command === '--help') {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  const config = loadConfig(process.env, { forService: false });
  const needsBroker = command === 'dlq';
  const connection = await Connection.connect({ address: config.temporal.address, connectTimeout: '5s' });
  const db = await openStores(config.mongo.url, config.wallet.finalizationLogRetentionHours);
  const amqp = needsBroker ? await connect(config.amqp.url, { timeout: 5_000 }) : undefined;
  const ctx: OperationsContext = {
    client: new Client({ connection, namespace: config.temporal.namespace }),
    stores: db,
    ledger: new Ledger(db.ledger, createMetrics(), config.wallet.initialBalance),
    stalledAfterMs: config.wallet.reconciliationStalledAfterMinutes * 60_000,
    channel: amqp ? await amqp.createConfirmChannel() : undefined,
  };
  try {
    return await run(ctx, command, args, { force });
  } finally {
    await amqp?.close();
    await db.close();
    await connection.close();
  }
}

async function run(ctx: OperationsContext, command: string, args: string[], override: OperatorOverride): Promise<number> {
  const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  const transactionId = () => {
    const id = canonicalObjectId(args[0]);
    if (!id) throw new UsageError('a 24-hex-digit transactionId is required');
    return id;
  };
  switch (command) {
    case 'show':
      print(await showTransaction(ctx, transactionId()));
      return 0;
    case 'stuck':
      print(await listStuck(ctx, Number(args[0] ?? 5) * 60_000));
      return 0;
    case 'retry':
      print({ signalled: 'operatorRetry', workflowId: await retryTransaction(ctx, transactionId(), override) });
      return 0;
    case 'reset': {
      const reason = args.slice(1).join(' ');
      if (!reason) throw new UsageError('say why: reset <transactionId> <reason>');
      print({ newRunId: await resetTransaction(ctx, transactionId(), reason, override) });
      return 0;
    }
    case 'reconcile': {
      const report = await reconcileNow(ctx, { full: args.includes('--full') });
      print(report);
      return report.ok ? 0 : 1;
    }
    case 'verify': {
      const userId = optionValue(args, '--user');
      if (userId !== undefined && !canonicalObjectId(userId)) throw new UsageError('--user takes a 24-hex-digit userId');
      const head = optionValue(args, '--head');
      const kept = head === undefined ? undefined : /^(\d+):([0-9a-f]{64})$/.exec(head);
      if (kept === null) throw new UsageError('--head takes <version>:<hash>, as a statement closes with');
      if (kept && !userId) throw new UsageError('--head checks one wallet: give its --user');
      const verification = await verifyLedger(
        ctx.stores.ledger,
        {
          userId: userId?.toLowerCase(),
          after: optionValue(args, '--after') ?? null,
          keptHead: kept ? { version: Number(kept[1]), hash: kept[2] } : undefined,
        },
        ({ wallets, entries, next }) =>
          process.stderr.write(`verified ${wallets} wallets, ${entries} entries${next ? `; resume with --after ${next}` : ''}\n`),
      );
      print(verification);
      return verification.ok ? 0 : 1;
    }
    case 'dlq': {
      const [action, n] = args;
      if (action === 'list') {
        print(await listDeadLetters(ctx, Number(n ?? 20)));
        return 0;
      }
      if (action !== 'replay') throw new UsageError('dlq list [n] | dlq replay [n] [--force]');
      const report = await replayDeadLetters(ctx, Number(n ?? 1), override);
      print(report);
      return report.kept.length === 0 ? 0 : 1;
    }
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

class UsageError extends Error {}

/** The value after `--name`, if given. */
function optionValue(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  if (at === -1) return undefined;
  const value = args[at + 1];
  if (value === undefined || value.startsWith('--')) throw new UsageError(`${name} needs a value`);
  return value;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) process.stderr.write(`${error.message}\n${USAGE}\n`);
    else if (error instanceof FinalTransactionError) process.stderr.write(`refused: ${error.message}\n`);
    else if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
    else process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(2);
  },
);
