// The workflow bundle's entry point: every workflow type the worker registers.
export { ledgerReconciliation } from './ledger-reconciliation';
export { walletReversal } from './legacy/wallet-reversal';
export { walletTransaction } from './wallet-transaction/workflow';
export { ledgerVerification } from './ledger-verification';
