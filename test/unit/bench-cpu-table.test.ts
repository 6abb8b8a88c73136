import { cpuTable } from '../../scripts/bench/report';
import type { Result } from '../../scripts/bench/run';

// The bench's CPU table: each phase's CPU-ms per transfer by process, and the service's (or the bare
// worker's) over the Temporal server's in the same phase, which the machine's drift moves less.

const phase = (scenario: string, cpuMsPerTransfer: Record<string, number>): Result => ({
  scenario,
  mode: 'max',
  transfers: 100,
  wallets: 10,
  seconds: 1,
  perSecond: 100,
  cpuMsPerTransfer,
});

describe("the bench's CPU table", () => {
  it("gives each phase's own process over the Temporal server, the service's or the bare worker's", () => {
    const rows = cpuTable([
      phase('uniform', { service: 18, temporal: 12 }),
      phase('bare Temporal (ceiling)', { worker: 10, temporal: 8 }),
    ]).split('\n');
    expect(rows[0]).toBe('| CPU ms per transfer | service | temporal | worker | service or worker / temporal |');
    expect(rows[2]).toBe('| uniform | 18 | 12 |  | 1.50 |');
    expect(rows[3]).toBe('| bare Temporal (ceiling) |  | 8 | 10 | 1.25 |');
  });

  it('leaves the quotient empty where the server was not measured', () => {
    expect(cpuTable([phase('floor', { service: 4 })]).split('\n')[2]).toBe('| floor | 4 |  |');
  });
});
