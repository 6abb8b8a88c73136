import { GroupCommit } from '../../src/database/group-commit';

/** A database write whose commands the spec completes or fails one at a time; it records each command's items. */
class RecordingWrite {
  readonly commands: string[][] = [];
  private readonly pending: { resolve: () => void; reject: (error: Error) => void }[] = [];

  readonly write = (items: string[]): Promise<void> => {
    this.commands.push(items);
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  };

  complete(): void {
    this.pending.shift()!.resolve();
  }

  fail(error: Error): void {
    this.pending.shift()!.reject(error);
  }

  /** Lets the group commit react to the command that just ended. */
  async settled(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Whether a promise has settled yet, and how. */
function watch(promise: Promise<void>): { state: 'pending' | 'resolved' | 'rejected' } {
  const watched = { state: 'pending' as 'pending' | 'resolved' | 'rejected' };
  promise.then(
    () => (watched.state = 'resolved'),
    () => (watched.state = 'rejected'),
  );
  return watched;
}

describe('a group commit', () => {
  it('writes a call at once when no command is in flight', async () => {
    const database = new RecordingWrite();
    const commit = new GroupCommit(database.write, 10);
    const call = watch(commit.add(['a', 'b']));
    expect(database.commands).toEqual([['a', 'b']]);
    await database.settled();
    expect(call.state).toBe('pending');
    database.complete();
    await database.settled();
    expect(call.state).toBe('resolved');
  });

  it('sends the calls made during a command together in the next one, in the order they came', async () => {
    const database = new RecordingWrite();
    const commit = new GroupCommit(database.write, 10);
    const first = watch(commit.add(['a']));
    const second = watch(commit.add(['b']));
    const third = watch(commit.add(['c', 'd']));
    expect(database.commands).toEqual([['a']]);
    database.complete();
    await database.settled();
    expect(database.commands).toEqual([['a'], ['b', 'c', 'd']]);
    expect([first.state, second.state, third.state]).toEqual(['resolved', 'pending', 'pending']);
    database.complete();
    await database.settled();
    expect([second.state, third.state]).toEqual(['resolved', 'resolved']);
  });

  it('never puts more items in a command than its limit, and never splits a call', async () => {
    const database = new RecordingWrite();
    const commit = new GroupCommit(database.write, 3);
    const calls = [['a'], ['b', 'c'], ['d'], ['e', 'f', 'g', 'h'], ['i']].map((items) => commit.add(items));
    for (let command = 0; command < 4; command++) {
      database.complete();
      await database.settled();
    }
    await Promise.all(calls);
    expect(database.commands).toEqual([['a'], ['b', 'c', 'd'], ['e', 'f', 'g', 'h'], ['i']]);
  });

  it('fails exactly the calls a failed command carried, and goes on with the next', async () => {
    const database = new RecordingWrite();
    const commit = new GroupCommit(database.write, 10);
    const first = watch(commit.add(['a']));
    const carried = [commit.add(['b']), commit.add(['c'])];
    database.complete();
    await database.settled();
    const later = watch(commit.add(['d']));
    database.fail(new Error('connection reset'));
    for (const call of carried) await expect(call).rejects.toThrow('connection reset');
    expect(first.state).toBe('resolved');
    expect(database.commands).toEqual([['a'], ['b', 'c'], ['d']]);
    database.complete();
    await database.settled();
    expect(later.state).toBe('resolved');
  });

  it('writes nothing for a call without items', async () => {
    const database = new RecordingWrite();
    await new GroupCommit(database.write, 10).add([]);
    expect(database.commands).toEqual([]);
  });

  it('refuses a limit that is not a positive count', () => {
    const write = () => Promise.resolve();
    expect(() => new GroupCommit(write, 0)).toThrow('positive item limit');
    expect(() => new GroupCommit(write, Number.POSITIVE_INFINITY)).toThrow('positive item limit');
  });
});
