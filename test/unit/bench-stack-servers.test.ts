import { serversCpuMs, type ProcessCpu } from '../../scripts/bench/cpu';

// The bench charges each server of its own stack with the CPU of the process its pid file names and
// of every process under it, and nothing else running on the machine.

const running = (pid: number, parent: number, cpuMs: number): ProcessCpu => ({ pid, parent, cpuMs });

describe("the bench's servers' CPU", () => {
  it('adds the processes under a server to it: the broker under its launcher, the database under its own', () => {
    const processes = [
      running(100, 1, 5), // rabbitmq-server, the launcher
      running(101, 100, 900), // its Erlang VM
      running(102, 101, 7), // a helper of the VM
      running(200, 1, 300), // postgres
      running(201, 200, 40), // a backend
      running(202, 200, 60), // another
    ];
    expect(serversCpuMs({ rabbitmq: 100, postgres: 200 }, processes)).toEqual({ rabbitmq: 912, postgres: 400 });
  });

  it("counts no other stack's servers, nor a process under none of its own", () => {
    const processes = [
      running(300, 1, 1_000), // this stack's Temporal server
      running(400, 1, 2_000), // another stack's Temporal server, the same program
      running(401, 400, 50),
      running(500, 1, 70), // the service under test, counted apart
    ];
    expect(serversCpuMs({ temporal: 300 }, processes)).toEqual({ temporal: 1_000 });
  });

  it('leaves out a server whose pid file is missing or names a process that is gone', () => {
    const processes = [running(600, 1, 10)];
    expect(serversCpuMs({ ferretdb: undefined, temporal: 700, rabbitmq: 600 }, processes)).toEqual({ rabbitmq: 10 });
  });
});
