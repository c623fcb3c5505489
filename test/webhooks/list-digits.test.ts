import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { openDb, type Db } from '../../src/store/db.js';
import { SqliteInbox } from '../../src/webhooks/inbox/sqlite.js';
import { runCli, tmpDir } from '../helpers/hub.js';

/** `switchboard webhooks list --json` prints a payload's integers past 2^53 as the provider sent them. */
describe('webhooks list --json', () => {
  let dir: ReturnType<typeof tmpDir>;
  let data: string;
  let db: Db;

  beforeEach(() => {
    dir = tmpDir();
    data = join(dir.path, 'data');
    db = openDb({ file: join(data, 'switchboard.db'), clock: manualClock(Date.now()) });
  });
  afterEach(() => {
    db.close();
    dir.remove();
  });

  it('keeps a tweet id past 2^53 digit for digit', async () => {
    const inbox = new SqliteInbox(db, manualClock(Date.now()));
    await inbox.accept({
      integration: 'acme',
      deliveryId: 'd-big',
      type: 'tweet_create',
      connection: { id: 'con_a', tenant: 'default', user: 'alice' },
      payload: '{"tweet":{"id":1460323737035677698,"small":7}}',
    });
    const r = await runCli(['webhooks', 'list', '--json', '--data', data], dir.path);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('"id": 1460323737035677698,');
    expect(r.stdout).not.toContain('__exact_');
    expect((JSON.parse(r.stdout) as Array<{ payload: { tweet: { small: number } } }>)[0]!.payload.tweet.small).toBe(7);
  });
});
