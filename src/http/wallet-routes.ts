import type { Express, RequestHandler } from 'express';
import type { WalletReader } from '../ledger';
import { balanceQuery, encodeCursor, historyQuery, queryOf } from './api-schemas';
import { HttpError } from './errors';

export type WalletReads = Pick<WalletReader, 'walletOf' | 'historyOf' | 'balanceAt'>;

/** The wallet read endpoints. The caller is always the authenticated user; no route takes a user id. */
export function registerWalletRoutes(app: Express, reader: WalletReads, authenticate: RequestHandler): void {
  app.get('/api/v1/wallet/user', authenticate, async (_req, res) => {
    const wallet = await reader.walletOf(res.locals.userId!);
    if (!wallet) throw new HttpError(404, 'Wallet not found');
    res.json(wallet);
  });

  app.get('/api/v1/wallet/user/balance', authenticate, async (req, res) => {
    const balance = await reader.balanceAt(res.locals.userId!, queryOf(req, balanceQuery).at);
    if (!balance) throw new HttpError(404, 'Wallet not found');
    res.json(balance);
  });

  app.get('/api/v1/wallet/user/transactions', authenticate, async (req, res) => {
    const { limit, cursor } = queryOf(req, historyQuery);
    const page = await reader.historyOf(res.locals.userId!, limit, cursor);
    res.json({
      items: page.entries,
      nextCursor: page.nextBeforeVersion === null ? null : encodeCursor(page.nextBeforeVersion),
    });
  });
}
