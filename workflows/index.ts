// The workflow bundle's entry point: every workflow type the worker registers.
export { walletTransaction } from './wallet-transaction';
