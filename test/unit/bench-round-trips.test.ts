import { parseCounts, roundTripsPerTransfer } from '../../scripts/bench/round-trips';

// The bench's count of a transfer's round trips, read from the service's /metrics exposition.

const exposition = (commands: number, consumed: number, published: number) => `
# HELP db_query_duration_seconds Duration of database queries
# TYPE db_query_duration_seconds histogram
db_query_duration_seconds_bucket{le="0.005",operation="insert",collection="ledger_entries"} ${commands}
db_query_duration_seconds_sum{operation="insert",collection="ledger_entries"} 0.25
db_query_duration_seconds_count{operation="insert",collection="ledger_entries"} ${commands}
db_query_duration_seconds_count{operation="find",collection="transaction_outcomes"} 7
wallet_messages_consumed_total{queue="wallet.update.q",outcome="accepted"} ${consumed}
wallet_messages_consumed_total{queue="wallet.update.q",outcome="duplicate"} 1
wallet_finalizations_published_total{status="Completed"} ${published}
wallet_finalizations_published_total{status="Failed"} 2
wallet_ledger_entry_hints_total{outcome="published"} ${commands}
wallet_ledger_entry_hint_messages_total ${consumed}
process_cpu_seconds_total 12.5
`;

describe('the round trips of a transfer, from the service metrics', () => {
  it('counts each database command by operation and collection, and broker messages by queue or kind (hint messages, not the hints they carry)', () => {
    expect(parseCounts(exposition(40, 20, 18))).toEqual({
      'database: insert ledger_entries': 40,
      'database: find transaction_outcomes': 7,
      'broker: consumed from wallet.update.q': 21,
      'broker: finalization published (confirmed)': 20,
      'broker: live-update hints message published': 20,
    });
  });

  it('gives what grew per transfer between two samples, leaving out what did not move', () => {
    const before = parseCounts(exposition(40, 20, 18));
    const after = parseCounts(exposition(60, 30, 28));
    expect(roundTripsPerTransfer(before, after, 10)).toEqual({
      'broker: consumed from wallet.update.q': 1,
      'broker: finalization published (confirmed)': 1,
      'broker: live-update hints message published': 1,
      'database: insert ledger_entries': 2,
    });
  });

  it('counts a series that first appears during the phase from zero', () => {
    const after = parseCounts(exposition(3, 0, 0));
    expect(roundTripsPerTransfer({}, after, 3)['database: insert ledger_entries']).toBe(1);
  });
});
