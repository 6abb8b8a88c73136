// The wallet's vocabulary, shared by the workflows (bundled into Temporal's deterministic sandbox)
// and the services around them: plain types and pure functions, importing nothing outside this folder.
export * from './failures';
export * from './ids';
export * from './legs';
export * from './reconciliation';
export * from './transactions';
