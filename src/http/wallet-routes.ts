import type { Express, Request, RequestHandler } from 'express';
import type { WalletReader } from '../ledger';
import { HttpError } from './http-error';
import { decodeCursor, encodeCursor } from './history-cursor';
import { momentParameter } from './moments';

export type WalletReads = Pick<WalletReader, 'walletOf' | 'historyOf' | 'balanceAt'>;

export const HISTORY_PAGE = { defaultLimit: 20, maxLimit: 100 } as const;

/** The wallet read endpoints. The caller is always the authenticated user; no route takes a user id. */
export function registerWalletRoutes(app: Express, reader: WalletReads, authenticate: RequestHandler): void {
  app.get('/api/v1/wallet/user', authenticate, async (_req, res) => {
    const wallet = await reader.walletOf(res.locals.userId!);
    if (!wallet) throw new HttpError(404, 'Wallet not found');
    res.json(wallet);
  });

  app.get('/api/v1/wallet/user/balance', authenticate, async (req, res) => {
    const balance = await reader.balanceAt(res.locals.userId!, momentParameter(req, 'at'));
    if (!balance) throw new HttpError(404, 'Wallet not found');
    res.json(balance);
  });

  app.get('/api/v1/wallet/user/transactions', authenticate, async (req, res) => {
    const limit = limitOf(req);
    const cursor = singleQueryValue(req, 'cursor');
    const page = await reader.historyOf(res.locals.userId!, limit, cursor === undefined ? undefined : decodeCursor(cursor));
    res.json({
      items: page.entries,
      nextCursor: page.nextBeforeVersion === null ? null : encodeCursor(page.nextBeforeVersion),
    });
  });
}

function limitOf(req: Request): number {
  const raw = singleQueryValue(req, 'limit');
  if (raw === undefined) return HISTORY_PAGE.defaultLimit;
  const limit = /^\d{1,3}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(limit >= 1 && limit <= HISTORY_PAGE.maxLimit)) {
    throw new HttpError(400, `limit must be an integer from 1 to ${HISTORY_PAGE.maxLimit}`);
  }
  return limit;
}

function singleQueryValue(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new HttpError(400, `${name} must be given once, as a plain value`);
  return value;
}
