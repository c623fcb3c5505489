/**
 * A connection's API base (src/integrations/connection-base.ts): apiBaseUrl filled with the values
 * its link learned, a path value as one percent-encoded segment; a connection that lacks a value, or
 * holds an origin allowedHosts no longer lists, is moved to needs_reauth and never called.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../src/connections/types.js';
import { ConnectionBases } from '../../src/integrations/connection-base.js';
import { defineIntegration } from '../../src/integrations/definition.js';

const OAUTH = { authorizeUrl: 'https://login.example.test/a', tokenUrl: 'https://login.example.test/t' };
const conn = (apiValues: Record<string, string>): Connection =>
  ({ id: 'conn_1', tenant: 'default', user: 'alice', integration: 'x', state: 'active', apiValues }) as Connection;

function bases(apiBaseUrl: string, values: Record<string, string>, allowedHosts?: string[]) {
  const marked: string[] = [];
  const definition = defineIntegration({
    name: 'x',
    title: 'X',
    oauth: OAUTH,
    apiBaseUrl,
    account: { values: Object.fromEntries(Object.keys(values).map((k) => [k, `token:${k}`])) },
    ...(allowedHosts ? { allowedHosts } : {}),
    tools: {},
  });
  const b = new ConnectionBases({ definition, connections: { get: async () => undefined }, needsRelink: async (_c, why) => void marked.push(why) });
  return { b, marked };
}

describe("a connection's base", () => {
  it('fills a path value as one encoded segment, and an origin as learned', async () => {
    expect(await bases('https://api.example.test/ex/{site}/v1', { site: '' }).b.of(conn({ site: 'a/b?c#d' }))).toBe(
      'https://api.example.test/ex/a%2Fb%3Fc%23d/v1',
    );
    expect(await bases('{origin}/v1', { origin: '' }, ['*.example.test']).b.of(conn({ origin: 'https://a.example.test' }))).toBe('https://a.example.test/v1');
  });

  it('lacking a value, moves the connection to needs_reauth and offers no base', async () => {
    const { b, marked } = bases('https://api.example.test/ex/{site}/v1', { site: '' });
    await expect(b.of(conn({}))).rejects.toMatchObject({ code: 'connection_needs_reauth' });
    expect(marked).toEqual(["it was linked before X's apiBaseUrl named {site}; link it again so the hub learns it"]);
  });

  it('holding an origin allowedHosts no longer lists, is not called there', async () => {
    const { b, marked } = bases('{origin}/v1', { origin: '' }, ['*.example.test']);
    await expect(b.of(conn({ origin: 'https://a.other.test' }))).rejects.toMatchObject({ code: 'connection_needs_reauth' });
    expect(marked[0]).toContain('names a host allowedHosts does not list (*.example.test)');
  });
});
