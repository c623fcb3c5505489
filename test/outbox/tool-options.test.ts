/**
 * What a write tool declares for the outbox, end to end: `sensitive` (its arguments and the
 * provider's answer sealed in the data file) and `ordering` (sent one at a time, in queue order,
 * per connection and value), through real MCP clients, a hub on a SQLite file and the
 * token-bucket API on loopback. A bad declaration stops loading, naming the integration and key.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigValue } from '../../src/config/load.js';
import { defineIntegration } from '../../src/integrations/definition.js';
import { orderingKeyOf, unkeyedOrderingKeyOf } from '../../src/integrations/outbound.js';
import { startBucketApi, type Arrival, type BucketApi } from '../fixtures/bucket-api.js';
import { hubErrorOf } from '../helpers/errors.js';
import { eventually, runCli, startHub, tmpDir, type RunningHub } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';

const text = { type: 'string' };
const tools = {
  note: { description: 'Creates a note', method: 'POST', path: '/notes', input: { type: 'object', properties: { text }, required: ['text'] } },
  secret_note: {
    description: 'Creates a private note',
    method: 'POST',
    path: '/notes',
    sensitive: true,
    input: { type: 'object', properties: { text, recipient: text }, required: ['text', 'recipient'] },
  },
  post: {
    description: 'Posts to a channel',
    method: 'POST',
    path: '/channels/{channel}/messages',
    ordering: { key: 'channel' },
    input: { type: 'object', properties: { channel: text, text }, required: ['channel', 'text'] },
  },
  log: { description: 'Appends to the log', method: 'POST', path: '/log', ordering: 'connection', input: { type: 'object', properties: { text } } },
};

async function client(hub: RunningHub): Promise<Client> {
  const c = new Client({ name: 'tool-options-test', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
  return c;
}

/** The arrivals of one group, in arrival order: each began after the one before it was answered. */
function assertOneAtATime(group: Arrival[]): void {
  for (let i = 1; i < group.length; i++) expect(group[i]!.start).toBeGreaterThanOrEqual(group[i - 1]!.end);
}

const overlap = (a: Arrival, b: Arrival) => a.start < b.end && b.start < a.end;

describe('sensitive and ordered writes', () => {
  let api: BucketApi;
  let hub: RunningHub;
  const clients: Client[] = [];
  /** Every line the hub logged, debug and up. */
  const logged: string[] = [];

  beforeAll(async () => {
    // A slow provider, so writes sent together are seen in flight together. It refuses a write to
    // a blocked address with a 422 that quotes the address, as providers' messages do.
    api = await startBucketApi({
      perSecond: 1000,
      burst: 100,
      delayMs: 120,
      trace: true,
      echo: true,
      refuse: ({ body }) => {
        const to = /"(?:recipient|text)":"([^"]*@blocked\.test)"/.exec(body)?.[1];
        return to === undefined ? undefined : { status: 422, body: JSON.stringify({ error: `cannot deliver to ${to}: the address is blocked` }) };
      },
    });
    const notes = {
      type: 'custom',
      title: 'Notes',
      apiBaseUrl: api.url,
      auth: { type: 'apiKey', header: 'x-api-key', value: 'k-notes' },
      idempotencyHeader: 'Idempotency-Key',
      rateLimit: { perApp: { perSecond: 500, burst: 100 } },
      tools,
    };
    hub = await startHub({ integrations: { notes }, outbox: { waitMs: 30_000 } }, { log: capturedLogger(logged, 'debug') });
    for (let i = 0; i < 4; i++) clients.push(await client(hub));
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await hub?.stop();
    await api?.close();
  });

  it('a sensitive write answers its caller; the data file holds neither its arguments nor the answer in plaintext', async () => {
    const secret = `s3cret-${randomBytes(6).toString('hex')}`;
    const recipient = `carol-${randomBytes(4).toString('hex')}@example.test`;
    const plain = `plain-${randomBytes(6).toString('hex')}`;
    const r = await clients[0]!.callTool({ name: 'notes__secret_note', arguments: { text: secret, recipient } });
    expect(r.isError).toBeFalsy();
    const record = (r.structuredContent as { record: { id: string; text: string; recipient: string } }).record;
    expect(record).toMatchObject({ text: secret, recipient });
    // The same write, not sensitive: the raw read below does see a plaintext argument and answer.
    const p = await clients[0]!.callTool({ name: 'notes__note', arguments: { text: plain } });
    const plainId = (p.structuredContent as { record: { id: string } }).record.id;

    const db = new Database(join(hub.dataDir, 'switchboard.db'), { readonly: true });
    let rows: Array<Record<string, unknown>>;
    try {
      rows = db.prepare("SELECT * FROM outbox_jobs WHERE integration = 'notes' AND tool IN ('secret_note', 'note')").all() as Array<Record<string, unknown>>;
    } finally {
      db.close();
    }
    const sealed = rows.find((row) => row['tool'] === 'secret_note')!;
    const open = rows.find((row) => row['tool'] === 'note')!;
    expect(sealed).toMatchObject({ state: 'done', sensitive: 1 });
    expect(open).toMatchObject({ state: 'done', sensitive: 0 });
    expect(sealed['args']).toEqual(expect.any(String));
    expect(sealed['result']).toEqual(expect.any(String));
    const raw = JSON.stringify(sealed);
    for (const s of [secret, recipient, record.id]) expect(raw).not.toContain(s);
    expect(JSON.stringify(open)).toContain(plain);
    expect(JSON.stringify(open)).toContain(plainId);
    // Nowhere in the file or its write-ahead log either (no other table copies them).
    const bytes = ['switchboard.db', 'switchboard.db-wal']
      .map((f) => join(hub.dataDir, f))
      .filter(existsSync)
      .map((f) => readFileSync(f));
    expect(bytes.some((b) => b.includes(plain))).toBe(true);
    for (const s of [secret, recipient, record.id]) expect(bytes.some((b) => b.includes(s))).toBe(false);
  });

  it('a sensitive write the provider refuses with its argument quoted: the caller reads the message; the data file and the logs keep the status only', async () => {
    const recipient = `dave-${randomBytes(4).toString('hex')}@blocked.test`;
    const secret = `s3cret-${randomBytes(6).toString('hex')}`;
    const r = await clients[0]!.callTool({ name: 'notes__secret_note', arguments: { text: secret, recipient } });
    expect(r.isError).toBe(true);
    expect(JSON.stringify(r.content)).toContain(`cannot deliver to ${recipient}`);
    // The same refusal of a write that is not sensitive: its message is stored and logged whole,
    // so the checks below do see a quoted argument where there is one.
    const open = `erin-${randomBytes(4).toString('hex')}@blocked.test`;
    const p = await clients[0]!.callTool({ name: 'notes__note', arguments: { text: open } });
    expect(p.isError).toBe(true);

    const db = new Database(join(hub.dataDir, 'switchboard.db'), { readonly: true });
    let rows: Array<Record<string, unknown>>;
    try {
      rows = db.prepare("SELECT tool, state, last_error FROM outbox_jobs WHERE integration = 'notes' AND state = 'failed'").all() as Array<
        Record<string, unknown>
      >;
    } finally {
      db.close();
    }
    expect(rows).toContainEqual({
      tool: 'secret_note',
      state: 'failed',
      last_error: 'the provider answered 422 (its answer is sealed with the job: sensitive)',
    });
    expect(rows).toContainEqual({
      tool: 'note',
      state: 'failed',
      last_error: `the provider answered 422: {"error":"cannot deliver to ${open}: the address is blocked"}`,
    });
    const bytes = ['switchboard.db', 'switchboard.db-wal']
      .map((f) => join(hub.dataDir, f))
      .filter(existsSync)
      .map((f) => readFileSync(f));
    expect(bytes.some((b) => b.includes(open))).toBe(true);
    for (const s of [secret, recipient]) expect(bytes.some((b) => b.includes(s))).toBe(false);
    const log = logged.join('');
    expect(log).toContain(open);
    for (const s of [secret, recipient]) expect(log).not.toContain(s);
  });

  it('writes with one ordering value from concurrent clients reach the API one at a time in queue order; other values overlap them', async () => {
    const channels = ['alpha', 'beta', 'gamma'];
    const before = api.arrivals.length;
    // The worker held until every call is queued, so the queue's order is settled before any is sent.
    const worker = hub.hub.outbox.worker;
    await worker.stop();
    const idleBefore = worker.claimedOnIdle;
    let calls: Promise<Awaited<ReturnType<Client['callTool']>>>[] = [];
    try {
      calls = clients.flatMap((c, ci) => [
        ...channels.flatMap((channel) => [0, 1].map((i) => c.callTool({ name: 'notes__post', arguments: { channel, text: `${channel}-${ci}-${i}` } }))),
        c.callTool({ name: 'notes__log', arguments: { text: `log-${ci}` } }),
      ]);
      await eventually(async () => (await hub.hub.outbox.outbox.list({ integration: 'notes', state: 'queued' })).length === calls.length);
    } finally {
      worker.start();
    }
    const results = await Promise.all(calls);
    expect(results.filter((r) => r.isError)).toEqual([]);

    const jobs = (await hub.hub.outbox.outbox.list({ integration: 'notes', limit: 1000 })).reverse();
    const arrivals = api.arrivals.slice(before).sort((a, b) => a.start - b.start);
    expect(arrivals).toHaveLength(calls.length);
    const groups = new Map<string, Arrival[]>();
    for (const a of arrivals) groups.set(a.path, [...(groups.get(a.path) ?? []), a]);
    expect([...groups.keys()].sort()).toEqual(['/channels/alpha/messages', '/channels/beta/messages', '/channels/gamma/messages', '/log']);
    for (const group of groups.values()) {
      expect(group).toHaveLength(group[0]!.path === '/log' ? clients.length : clients.length * 2);
      assertOneAtATime(group);
      const keys = new Set(group.map((a) => a.idempotencyKey));
      // Queue order: the jobs of this group as the outbox numbered them when they were queued.
      expect(group.map((a) => a.idempotencyKey)).toEqual(jobs.filter((j) => keys.has(j.id)).map((j) => j.id));
    }
    // The next of a group is claimed as soon as its predecessor is recorded, never left for the
    // worker's idle tick (which would take a second per write in a chain).
    expect(worker.claimedOnIdle - idleBefore).toBe(0);
    const groupList = [...groups.values()];
    const across = groupList.some((g, i) => groupList.slice(i + 1).some((h) => g.some((a) => h.some((b) => overlap(a, b)))));
    expect(across).toBe(true);
    for (const a of arrivals) expect(api.appliedByKey.get(a.idempotencyKey!)).toBe(1);
  }, 60_000);
});

describe('the ordering key of a call', () => {
  const secret = randomBytes(32);
  it('is shared by equal values across tools, differs per integration and value, and never shows the value', () => {
    const byTicket = { key: 'ticket' };
    const k = orderingKeyOf('desk', byTicket, { ticket: 'T-42', text: 'a' }, secret);
    expect(orderingKeyOf('desk', { key: 'id' }, { id: 'T-42' }, secret)).toBe(k);
    expect(orderingKeyOf('desk', byTicket, { ticket: 42 }, secret)).toBe(orderingKeyOf('desk', byTicket, { ticket: '42' }, secret));
    expect(orderingKeyOf('desk', byTicket, { ticket: 'T-43' }, secret)).not.toBe(k);
    expect(orderingKeyOf('other', byTicket, { ticket: 'T-42' }, secret)).not.toBe(k);
    expect(k).not.toContain('T-42');
    expect(orderingKeyOf('desk', 'connection', {}, secret)).toBe('desk:connection');
    expect(orderingKeyOf('desk', undefined, { ticket: 'T-42' }, secret)).toBeUndefined();
  });

  it('is keyed: a guessed value hashed without the hub key matches nothing, and another hub key gives another digest', () => {
    const byTicket = { key: 'ticket' };
    const k = orderingKeyOf('desk', byTicket, { ticket: '42' }, secret)!;
    const guess = `desk:${createHash('sha256').update('42').digest('base64url')}`;
    expect(unkeyedOrderingKeyOf('desk', byTicket, { ticket: 42 })).toBe(guess);
    expect(k).not.toBe(guess);
    expect(k.slice('desk:'.length)).not.toContain(guess.slice('desk:'.length));
    expect(orderingKeyOf('desk', byTicket, { ticket: '42' }, randomBytes(32))).not.toBe(k);
    expect(k).toMatch(/^desk:k1\.[\w-]{43}$/);
  });
});

describe('bad declarations', () => {
  const FILE = '/etc/sb/switchboard.config.json';
  const acme = (tool: Record<string, unknown>) => ({
    integrations: {
      acme: {
        type: 'custom',
        auth: { type: 'none' },
        apiBaseUrl: 'https://api.acme.test',
        tools: {
          create: {
            description: 'Creates',
            method: 'POST',
            path: '/things',
            input: { type: 'object', properties: { project: text, note: text }, required: ['project'] },
            ...tool,
          },
        },
      },
    },
  });

  it.each([
    [{ ordering: { key: 'channel' } }, `ordering.key: "channel" is not a property of the tool's input schema`],
    [{ ordering: { key: 'note' } }, `ordering.key: "note" must be required by the tool's input schema: a call without it has no value to order by`],
    [{ ordering: 'tool' }, 'ordering: expected "connection" or { "key": "<argument name>" }'],
    [{ ordering: { key: 'project', by: 'value' } }, null],
    [{ sensitive: 'yes' }, 'sensitive: Invalid input: expected boolean, received string'],
    [{ readOnly: true, method: 'GET', ordering: 'connection' }, 'ordering: a readOnly tool is not queued, so it cannot be ordered'],
    [{ readOnly: true, method: 'GET', sensitive: true }, 'sensitive: a readOnly tool is not queued, so there is nothing of it to seal'],
  ])('config: %j stops loading, naming the integration and the key', (tool, expected) => {
    const err = hubErrorOf(() => parseConfigValue(acme(tool), FILE, () => {}));
    expect(err.code).toBe('config_invalid');
    expect(err.message).toBe(
      expected === null ? `${FILE}: unknown key integrations.acme.tools.create.ordering.by` : `${FILE}: integrations.acme.tools.create.${expected}`,
    );
  });

  it('config: both keys declared well load as declared', () => {
    const c = parseConfigValue(acme({ ordering: { key: 'project' }, sensitive: true }), FILE, () => {});
    const a = c.integrations['acme'];
    expect(a?.type === 'custom' && a.tools['create']).toMatchObject({ ordering: { key: 'project' }, sensitive: true });
    const d = parseConfigValue(acme({}), FILE, () => {});
    expect(d.integrations['acme']?.type === 'custom' && d.integrations['acme'].tools['create']?.sensitive).toBeUndefined();
  });

  it('code: a handler tool ordered by an undeclared argument is refused where it is defined', () => {
    const define =
      (ordering: unknown, sensitive: unknown = false) =>
      () =>
        defineIntegration({
          name: 'handy',
          title: 'Handy',
          auth: { type: 'none' },
          apiBaseUrl: 'https://api.handy.test',
          tools: {
            send: {
              description: 'Sends',
              input: { type: 'object', properties: { to: text }, required: ['to'] },
              handler: async () => 'sent',
              ordering,
              sensitive,
            } as never,
          },
        });
    expect(define({ key: 'channel' })).toThrow(`integration handy: tools.send.ordering.key: "channel" is not a property of the tool's input schema`);
    expect(define('connection', 1)).toThrow('integration handy: tools.send.sensitive: Invalid input: expected boolean, received number');
    expect(define({ key: 'to' })().tools['send']).toMatchObject({ ordering: { key: 'to' }, sensitive: false });
  });

  it('serve refuses such a config before it starts (build first: `npm run build`)', async () => {
    const dir = tmpDir('switchboard-tool-options-');
    try {
      const file = join(dir.path, 'switchboard.config.json');
      writeFileSync(file, JSON.stringify(acme({ ordering: { key: 'channel' } })));
      const r = await runCli(['serve', '--config', file, '--data', join(dir.path, 'data'), '--port', '0'], dir.path);
      expect(r).toEqual({
        code: 1,
        stdout: '',
        stderr: `switchboard: error (config_invalid): ${file}: integrations.acme.tools.create.ordering.key: "channel" is not a property of the tool's input schema\n`,
      });
    } finally {
      dir.remove();
    }
  });
});
