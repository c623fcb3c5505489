/**
 * `--user` with two users side by side: a listing narrows to the user's records, and a command
 * that acts by id (or on everyone) refuses `--user` rather than ignoring it, so `tokens revoke
 * <alice's id> --user bob` no longer revokes alice's token and `queue list --user bob` no longer
 * lists alice's writes as bob's.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { manualClock } from '../../src/clock.js';
import { SqliteOutbox } from '../../src/outbox/sqlite.js';
import { openDb } from '../../src/store/db.js';
import { runCli, tmpDir } from '../helpers/hub.js';

const tokens = z.array(z.object({ id: z.string(), user: z.string(), state: z.string() }));
const jobs = z.array(z.object({ id: z.string(), user: z.string(), tenant: z.string() }));

describe('--user with two users', () => {
  let dir: ReturnType<typeof tmpDir>;
  let data: string;
  const cli = (...args: string[]) => runCli([...args, '--data', data], dir.path);

  beforeEach(() => {
    dir = tmpDir('switchboard-user-flag-');
    data = join(dir.path, 'data');
  });
  afterEach(() => dir.remove());

  it('tokens revoke <alice id> --user bob is a usage mistake and revokes nothing', async () => {
    expect((await cli('tokens', 'create', '--user', 'alice')).code).toBe(0);
    expect((await cli('tokens', 'create', '--user', 'bob')).code).toBe(0);
    const listed = tokens.parse(JSON.parse((await cli('tokens', 'list', '--json')).stdout));
    const alices = listed.find((t) => t.user === 'alice')!.id;

    const r = await cli('tokens', 'revoke', alices, '--user', 'bob');
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/^switchboard tokens: --user is not a flag of "tokens revoke": .*\nusage: switchboard tokens create/);
    expect(tokens.parse(JSON.parse((await cli('tokens', 'list', '--json')).stdout)).map((t) => [t.user, t.state])).toEqual([
      ['alice', 'active'],
      ['bob', 'active'],
    ]);
    // The lists still narrow by it.
    expect(tokens.parse(JSON.parse((await cli('tokens', 'list', '--user', 'bob', '--json')).stdout)).map((t) => t.user)).toEqual(['bob']);
  });

  it.each([
    [['connections', 'revoke', 'conn_x'], 'connections revoke'],
    [['connections', 'webhook-secret', 'conn_x', '--clear'], 'connections webhook-secret'],
    [['clients', 'revoke', 'sbc_x'], 'clients revoke'],
    [['webhooks', 'replay', 'evt_x'], 'webhooks replay'],
    [['queue', 'retry', 'job_x'], 'queue retry'],
    [['queue', 'purge', '--state', 'done'], 'queue purge'],
    [['users', 'invite', 'alice'], 'users invite'],
  ])('%j --user bob exits 2 before opening anything', async (args, named) => {
    const r = await cli(...args, '--user', 'bob');
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toContain(`--user is not a flag of "${named}"`);
    expect(r.stderr).not.toContain('data dir:');
  });

  it('users invite says its user is its argument, not that an id names one record', async () => {
    const r = await cli('users', 'invite', 'alice', '--user', 'bob');
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toContain('--user is not a flag of "users invite": the user to invite is its argument (users invite <user>)');
    expect(r.stderr).not.toContain('an id names one');
  });

  it('queue list --user and --tenant list that user’s writes only', async () => {
    const db = openDb({ file: join(data, 'switchboard.db'), clock: manualClock(Date.now() - 60_000) });
    try {
      const outbox = new SqliteOutbox(db, manualClock(Date.now() - 60_000));
      const job = (tenant: string, user: string) => ({ tenant, user, connectionId: 'c', integration: 'acme', tool: 'create', arguments: {} });
      await outbox.enqueue(job('default', 'alice'));
      await outbox.enqueue(job('default', 'bob'));
      await outbox.enqueue(job('acme', 'bob'));
    } finally {
      db.close();
    }
    const whose = async (...flags: string[]) => {
      const r = await cli('queue', 'list', '--json', ...flags);
      expect(r.code, r.stderr).toBe(0);
      return jobs.parse(JSON.parse(r.stdout)).map((j) => `${j.tenant}/${j.user}`);
    };
    expect(await whose('--user', 'bob')).toEqual(['acme/bob', 'default/bob']);
    expect(await whose('--user', 'bob', '--tenant', 'default')).toEqual(['default/bob']);
    expect(await whose('--user', 'alice')).toEqual(['default/alice']);
    expect(await whose()).toHaveLength(3);
    expect((await cli('queue', 'list', '--user', 'carol')).stdout).toBe('no jobs\n');
  });
});
