import { KeyedMutex } from '../../src/support/keyed-mutex';

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A task that notes when it starts and ends, yielding in between. */
const noted = (log: string[], name: string) => async () => {
  log.push(`${name} start`);
  await tick();
  log.push(`${name} end`);
};

describe('a keyed mutex', () => {
  it('runs tasks of one key one after another, in arrival order', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    const task = (name: string) => noted(log, name);
    await Promise.all([mutex.run('w1', task('a')), mutex.run('w1', task('b')), mutex.run('w1', task('c'))]);
    expect(log).toEqual(['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
  });

  it('runs tasks of different keys concurrently', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    const task = (name: string) => noted(log, name);
    await Promise.all([mutex.run('w1', task('a')), mutex.run('w2', task('b'))]);
    expect(log.slice(0, 2)).toEqual(['a start', 'b start']);
  });

  it('does not run a task whose caller gave up while it waited, and runs the next one', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    const gaveUp = new AbortController();
    const first = mutex.run('w1', noted(log, 'a'));
    const abandoned = mutex.run('w1', noted(log, 'b'), gaveUp.signal);
    const next = mutex.run('w1', noted(log, 'c'));
    gaveUp.abort(new Error('timed out'));
    await expect(abandoned).rejects.toThrow('timed out');
    await Promise.all([first, next]);
    expect(log).toEqual(['a start', 'a end', 'c start', 'c end']);
  });

  it('releases the key when a task fails and forgets idle keys', async () => {
    const mutex = new KeyedMutex();
    await expect(mutex.run('w1', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(mutex.run('w1', async () => 'next')).resolves.toBe('next');
    expect(mutex.size).toBe(0);
  });
});
