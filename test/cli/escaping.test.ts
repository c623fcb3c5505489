/**
 * Text listings escape the characters a terminal acts on in every value that came from outside: a
 * token label, a client name an OAuth client registered (RFC 7591 registration is open), a job's
 * tool. A newline cannot fake a row, ESC cannot recolour the screen; --json stays JSON.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { manualClock } from '../../src/clock.js';
import { SqliteOutbox } from '../../src/outbox/sqlite.js';
import { openDb } from '../../src/store/db.js';
import { printable } from '../../servers/common.js';
import { createAuthServer } from '../../src/auth/server.js';
import { systemClock } from '../../src/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { authorizeUrl, pkce, register, signIn } from '../auth/support.js';
import { runCli, startHub, tmpDir, type RunningHub } from '../helpers/hub.js';

const EVIL = 'Evil\nFAKE  default/root  admin\u001b[31mRED\r\t\u007f\u0085\u009b\u202e\u2066';
const SHOWN = 'Evil\\nFAKE  default/root  admin\\u001b[31mRED\\r\\t\\u007f\\u0085\\u009b\\u202e\\u2066';

describe('printable', () => {
  it('escapes C0, DEL, C1, the line separators and the bidi controls, and nothing else', () => {
    expect(printable(EVIL)).toBe(SHOWN);
    for (const c of ['\u0000', '\u001f', '\u0080', '\u009f', '\u2028', '\u2029', '\u202a', '\u202d', '\u2069'])
      expect(printable(c)).toBe(`\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    const plain = 'tok_1  acme/zoë  "label — ok" 日本 https://x.example/a?b=c\\d';
    expect(printable(plain)).toBe(plain);
  });
});

describe('listings', () => {
  let h: RunningHub;
  const cli = (...args: string[]) => runCli([...args, '--data', h.dataDir], h.dataDir);
  beforeAll(async () => {
    h = await startHub();
  });
  afterAll(() => h?.stop());

  it('tokens list, clients list and tokens list --oauth print one escaped line per row', async () => {
    const made = await cli('tokens', 'create', '--user', 'bob', '--label', EVIL);
    expect(made.code).toBe(0);
    const base = `http://127.0.0.1:${h.port}`;
    // Registration refuses such a name now; one registered before, or read from a client's
    // metadata document, is in the store all the same: put there as the library stores it.
    const reg = await register(base, 'plain name');
    expect(reg.status).toBe(201);
    const clientId = String(reg.body['client_id']);
    const other = await createAuthServer({
      store: h.hub.store,
      vault: h.hub.vault,
      clock: systemClock,
      log: silentLogger(),
      tokens: h.hub.tokens,
      publicUrl: base,
    });
    const provider = await other.provider();
    const stored = (await provider.Client.find(clientId)) as unknown as { metadata(): Record<string, unknown> };
    await provider.Client.adapter.upsert(clientId, { ...stored.metadata(), client_name: EVIL });
    await signIn(authorizeUrl(base, clientId, pkce()), h.token);

    const tokens = await cli('tokens', 'list');
    expect(tokens.code).toBe(0);
    expect(tokens.stdout).toContain(`  "${SHOWN}"\n`);
    for (const out of [tokens, await cli('clients', 'list'), await cli('tokens', 'list', '--oauth')]) {
      // Nothing left for printable to escape: the only raw control characters are the row ends.
      for (const row of out.stdout.split('\n')) expect(printable(row)).toBe(row);
      expect(out.stdout).toContain(`client=${clientId}  "${SHOWN}"`);
    }
    const oauth = await cli('clients', 'list');
    expect(oauth.stdout.split('\n')).toHaveLength(2);

    // JSON is JSON: the value comes back as it was registered.
    const json = z.array(z.object({ clientName: z.string().optional() })).parse(JSON.parse((await cli('clients', 'list', '--json')).stdout));
    expect(json.map((g) => g.clientName)).toEqual([EVIL]);
  });
});

describe('queue list', () => {
  it('escapes a job whose integration and tool carry control characters', async () => {
    const dir = tmpDir();
    const data = join(dir.path, 'data');
    const db = openDb({ file: join(data, 'switchboard.db'), clock: manualClock(Date.now()) });
    try {
      const outbox = new SqliteOutbox(db, manualClock(Date.now()));
      const { job } = await outbox.enqueue({
        tenant: 'default',
        user: 'a\nb',
        connectionId: 'c',
        integration: 'ac\u001b[2Jme',
        tool: 'make\rit',
        arguments: {},
      });
      const r = await runCli(['queue', 'list', '--data', data], dir.path);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^${job.id}  queued  ac\\\\u001b\\[2Jme\\.make\\\\rit  default/a\\\\nb  attempts=0  \\S+Z\\n$`));
    } finally {
      db.close();
      dir.remove();
    }
  });
});
