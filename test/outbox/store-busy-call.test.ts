/**
 * A write call whose job the hub's own store cannot record (another process holds the SQLite write
 * lock past busy_timeout; a full disk is the same) fails as `store_failed`, retryable and worded as
 * the store's fault: the integration did nothing wrong, and the provider was never asked.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';

describe('a write call the store cannot queue', () => {
  let api: Server;
  let hub: RunningHub;
  let client: Client;
  let writes = 0;

  beforeAll(async () => {
    api = createServer((req, res) => {
      writes++;
      req.resume();
      res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":1}');
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    hub = await startHub({
      integrations: {
        notes: {
          type: 'custom',
          title: 'Notes',
          apiBaseUrl: `http://127.0.0.1:${(api.address() as AddressInfo).port}`,
          auth: { type: 'apiKey', header: 'x-api-key', value: 'k-notes' },
          tools: { create: { description: 'Creates a note', method: 'POST', path: '/notes' } },
        },
      },
    });
    client = new Client({ name: 'store-busy-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
  });

  afterAll(async () => {
    await client?.close();
    await hub?.stop();
    await new Promise<void>((r) => (api ? api.close(() => r()) : r()));
  });

  it('answers store_failed, retryable, not blamed on the integration, and sends nothing', async () => {
    // Another process on the data dir (a long CLI transaction, a backup tool) holds the write lock.
    const other = new Database(join(hub.dataDir, 'switchboard.db'));
    other.exec('BEGIN IMMEDIATE');
    let r: Awaited<ReturnType<Client['callTool']>>;
    try {
      r = await client.callTool({ name: 'notes__create', arguments: {} });
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(r.isError).toBe(true);
    expect(r._meta).toEqual({ 'switchboard/error': { code: 'store_failed', retryable: true } });
    expect(r.content).toEqual([{ type: 'text', text: "the hub's store failed while calling notes__create: database is locked (SQLITE_BUSY)" }]);
    expect(writes).toBe(0);
  }, 30_000);
});
