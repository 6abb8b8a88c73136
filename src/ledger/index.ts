// The ledger: every balance change is an entry at its wallet's next version, chained by hash; the
// wallet document is a projection of the latest entry. Everything outside src/ledger comes in here.
export * from './chain';
export * from './errors';
export * from './ledger';
export * from './model';
export * from './reads';
export * from './statement';
export * from './store';
