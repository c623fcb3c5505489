import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { Hub } from '../../src/hub.js';
import { Lifecycle, type Part } from '../../src/lifecycle.js';
import { silentLogger } from '../../src/observability/logger.js';
import { hubErrorOf } from '../helpers/errors.js';

/** Parts that write what they do into one journal, so the test sees the order across parts. */
function recorded(names: string[], journal: string[], fail: { start?: string; stop?: string } = {}): Part[] {
  return names.map((name) => ({
    name,
    async start() {
      journal.push(`start ${name}`);
      if (fail.start === name) throw new Error(`${name} cannot start`);
    },
    async stop() {
      journal.push(`stop ${name}`);
      if (fail.stop === name) throw new Error(`${name} cannot stop`);
    },
  }));
}

const ORDER = ['store', 'migrate', 'vault', 'sources', 'inbox', 'pollers', 'outbox', 'faces'];

describe('lifecycle as data', () => {
  it('starts in the declared order and stops in reverse', async () => {
    const journal: string[] = [];
    const life = new Lifecycle(recorded(ORDER, journal));
    await life.start();
    expect(life.running()).toEqual(ORDER);
    await life.stop();
    expect(journal).toEqual([...ORDER.map((n) => `start ${n}`), ...[...ORDER].reverse().map((n) => `stop ${n}`)]);
    expect(life.running()).toEqual([]);
  });

  it('a part that fails to start stops the ones started before it, in reverse, and its error comes out', async () => {
    const journal: string[] = [];
    const life = new Lifecycle(recorded(ORDER, journal, { start: 'inbox' }));
    await expect(life.start()).rejects.toThrow('inbox cannot start');
    expect(journal).toEqual([
      'start store',
      'start migrate',
      'start vault',
      'start sources',
      'start inbox',
      'stop sources',
      'stop vault',
      'stop migrate',
      'stop store',
    ]);
    expect(life.running()).toEqual([]);
  });

  it('opens the foundation synchronously, then starts the rest where it left off', async () => {
    const journal: string[] = [];
    const parts: Part[] = ORDER.map((name) => ({ name, start: () => void journal.push(`start ${name}`), stop: () => void journal.push(`stop ${name}`) }));
    const life = new Lifecycle(parts);
    life.openSync('vault');
    expect(journal).toEqual(['start store', 'start migrate', 'start vault']);
    await life.start();
    expect(life.running()).toEqual(ORDER);
    expect(journal).toHaveLength(ORDER.length);
  });

  it('a failure while opening closes what was opened', () => {
    const journal: string[] = [];
    const parts: Part[] = [
      { name: 'store', start: () => void journal.push('open store'), stop: () => void journal.push('close store') },
      { name: 'migrate', start: () => void journal.push('migrate') },
      {
        name: 'vault',
        start: () => {
          throw new Error('no master key');
        },
      },
    ];
    const life = new Lifecycle(parts);
    expect(() => life.openSync('vault')).toThrow('no master key');
    expect(journal).toEqual(['open store', 'migrate', 'close store']);
  });

  it('one stop failing does not keep the others running; stop is idempotent', async () => {
    const journal: string[] = [];
    const failed: string[] = [];
    const life = new Lifecycle(recorded(['store', 'sources', 'faces'], journal, { stop: 'sources' }), { onStopError: (p) => failed.push(p) });
    await life.start();
    await Promise.all([life.stop(), life.stop()]);
    expect(journal.filter((j) => j.startsWith('stop'))).toEqual(['stop faces', 'stop sources', 'stop store']);
    expect(failed).toEqual(['sources']);
  });

  it('workers are entries of the list: adding one needs no other wiring', async () => {
    const journal: string[] = [];
    const workers = recorded(['inbox', 'pollers'], journal);
    const life = new Lifecycle([...recorded(['store', 'sources'], journal), ...workers, ...recorded(['faces'], journal)]);
    await life.start();
    await life.stop();
    expect(journal).toEqual([
      'start store',
      'start sources',
      'start inbox',
      'start pollers',
      'start faces',
      'stop faces',
      'stop pollers',
      'stop inbox',
      'stop sources',
      'stop store',
    ]);
  });

  it('refuses two parts of one name, and opening an unknown part', () => {
    expect(hubErrorOf(() => new Lifecycle([{ name: 'a' }, { name: 'a' }]))).toMatchObject({ code: 'internal' });
    expect(hubErrorOf(() => new Lifecycle([{ name: 'a' }]).openSync('b'))).toMatchObject({ code: 'internal' });
  });
});

describe('the hub declares its parts as one list', () => {
  const config = () => configSchema.parse({ integrations: {}, fixtures: {} });

  it('store → migrate → vault → keys → sources → workers → faces, and a worker that fails stops the hub in reverse', async () => {
    const journal: string[] = [];
    // The hub's own inbox and pollers parts sit before the workers handed in.
    const workers = recorded(['agents', 'tasks'], journal, { start: 'tasks' });
    const hub = new Hub({ config: config(), dataDir: ':memory:', log: silentLogger(), workers });
    expect(hub.parts()).toEqual([
      'store',
      'migrate',
      'vault',
      'keys',
      // Without Redis: stopped after the workers, so its last adjustments reach the store before it closes.
      'pacer',
      'processes',
      'connections',
      'sources',
      'inbox',
      'pollers',
      'outbox',
      'agents',
      'tasks',
      'faces',
    ]);
    // Opened by the constructor: the store is usable before start (the first admin token is made then).
    expect(await hub.tokens.count()).toBe(0);
    await expect(hub.start()).rejects.toThrow('tasks cannot start');
    expect(journal).toEqual(['start agents', 'start tasks', 'stop agents']);
    expect(hub.db.open).toBe(false);
    await hub.stop(); // a second stop after a failed start is harmless
  });

  it('stop closes the store last, after the workers', async () => {
    const journal: string[] = [];
    const hub = new Hub({
      config: config(),
      dataDir: ':memory:',
      log: silentLogger(),
      workers: [{ name: 'agents', stop: () => void journal.push(`agents stopped, store open: ${hub.db.open}`) }],
    });
    await hub.start();
    await hub.stop();
    expect(journal).toEqual(['agents stopped, store open: true']);
    expect(hub.db.open).toBe(false);
  });
});
