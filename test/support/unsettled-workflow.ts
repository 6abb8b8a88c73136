// A `walletTransaction` that completes at once without doing anything: what an execution started by
// hand under a transaction's id, and closed without settling it, leaves behind (see decided-once spec).
export async function walletTransaction(): Promise<string> {
  return 'closed without settling';
}
