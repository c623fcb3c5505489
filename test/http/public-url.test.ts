import { afterEach, describe, expect, it } from 'vitest';
import { hostedSandbox } from '../../servers/sandbox/hosted.js';
import { configSchema } from '../../src/config/schema.js';
import { bindHttp, type HttpListener } from '../../src/http/listener.js';
import { Hub } from '../../src/hub.js';
import { DEFAULT_TENANT } from '../../src/identity/identity.js';
import { silentLogger } from '../../src/observability/logger.js';
import { capturedLogger } from '../helpers/log.js';
import { rawRequest } from '../helpers/raw-http.js';

/**
 * Port 0 means "the OS picks at listen()": the hub's URL, and everything built on it, names the
 * port it was given — read from the bound socket, never from a port probed free beforehand.
 */
const who = { tenant: DEFAULT_TENANT, user: 'alice', scopes: [] };

/** A linkable API whose endpoints are elsewhere: nothing here calls them, only URLs are compared. */
const acme = {
  type: 'custom',
  title: 'Acme',
  oauth: {
    authorizeUrl: 'https://acme.example.test/oauth/authorize',
    tokenUrl: 'https://acme.example.test/oauth/token',
    clientId: 'hub',
    clientSecret: 'hub-secret',
    scopes: ['read'],
  },
  apiBaseUrl: 'https://acme.example.test/api',
  tools: { me: { description: 'Shows the linked account.', method: 'GET', path: '/me', readOnly: true } },
};

function hubOn(config: Record<string, unknown>, listener?: HttpListener): Hub {
  const parsed = configSchema.parse({ logLevel: 'silent', ...config });
  return new Hub({ config: parsed, dataDir: ':memory:', log: silentLogger(), hosted: [hostedSandbox()], ...(listener ? { listener } : {}) });
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe("the hub's URL on a port the OS picks", () => {
  const hubs: Hub[] = [];
  afterEach(async () => {
    await Promise.all(hubs.splice(0).map((h) => h.stop()));
  });

  it('is the bound address once listen() has bound, and links, the OAuth redirect, metadata and Origin checks use it', async () => {
    const hub = hubOn({ server: { port: 0 }, integrations: { acme } });
    hubs.push(hub);
    // Nothing can name the port before the OS has picked it: a clear error, never ":0".
    expect(thrown(() => hub.publicUrl)).toMatchObject({ code: 'config_invalid', message: expect.stringContaining('server.port is 0') });
    await hub.start();
    const l = await hub.listen();
    expect(l.port).toBeGreaterThan(0);
    const base = `http://127.0.0.1:${l.port}`;
    expect(l.url).toBe(`${base}/mcp`);
    expect(hub.publicUrl).toBe(base);

    const link = new URL(hub.integrations.accounts.linkUrl(who, 'acme'));
    expect(link.origin + link.pathname).toBe(`${base}/oauth/acme/start`);
    expect(hub.integrations.accounts.connectUrl(who)).toMatch(new RegExp(`^${base}/connect\\?link=`));
    const flow = await hub.integrations.accounts.start('acme', link.searchParams.get('link')!);
    expect(new URL(flow.authorizeUrl).searchParams.get('redirect_uri')).toBe(`${base}/oauth/callback`);

    const metadata = await fetch(`${base}/.well-known/oauth-protected-resource/mcp`);
    expect(metadata.status).toBe(200);
    expect(await metadata.json()).toMatchObject({ resource: `${base}/mcp` });
    // The allow-list is built on the bound port: the hub's own origin passes (to the token check), another port's does not.
    const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };
    const post = (origin: string) =>
      fetch(l.url, {
        method: 'POST',
        headers: { origin, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify(ping),
      });
    expect((await post(base)).status).toBe(401);
    expect((await post('http://127.0.0.1:1')).status).toBe(403);
  });

  it('cannot build a hosted provider before its listener is bound, and names the port of one bound first', async () => {
    // The sandbox's endpoints are on the hub's own URL, built with the hub.
    expect(thrown(() => hubOn({ server: { port: 0 }, integrations: { sandbox: {} } }))).toMatchObject({ code: 'config_invalid' });

    const listener = await bindHttp(configSchema.parse({}).server, { port: 0 });
    const base = `http://127.0.0.1:${listener.port}`;
    const hub = hubOn({ server: { port: 0 }, integrations: { sandbox: {} } }, listener);
    hubs.push(hub);
    expect(hub.publicUrl).toBe(base);
    expect(hub.integrations.accounts.integration('sandbox')?.definition.oauth?.authorizeUrl).toBe(`${base}/sandbox/oauth/authorize`);
    // Bound but not serving yet: what /readyz says while the hub starts.
    const early = await fetch(`${base}/healthz`);
    expect(early.status).toBe(503);
    expect(await early.json()).toEqual({ status: 'starting' });
    // Other routes say so in their own error shape, with a code: a JSON-RPC error where MCP clients read one.
    const mcp = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    });
    expect([mcp.status, mcp.headers.get('retry-after')]).toEqual([503, '1']);
    expect(await mcp.json()).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32000, message: 'the hub is starting; try again in a second', data: { code: 'hub_starting' } },
    });
    const page = await fetch(`${base}/connect`);
    expect(await page.json()).toEqual({ error: { code: 'hub_starting', message: 'the hub is starting; try again in a second' } });
    // Host and Origin are checked before the hub says it is starting, as they are once it serves.
    const rebound = await rawRequest({ port: listener.port, path: '/healthz', method: 'GET', headers: { host: 'evil.example' } });
    expect([rebound.status, JSON.parse(rebound.body)]).toEqual([
      403,
      { error: { code: 'host_rejected', message: 'Host header "evil.example" is not allowed' } },
    ]);
    const crossSite = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    });
    expect(crossSite.status).toBe(403);
    expect(((await crossSite.json()) as { error: { message: string } }).error.message).toBe('Origin "https://evil.example" is not allowed');

    await hub.start();
    expect(await hub.listen()).toEqual({ url: `${base}/mcp`, port: listener.port, host: '127.0.0.1' });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await hub.stop();
    // The listener handed in is closed with the hub.
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });

  it('is the configured host:port before any listen when the port is set, and server.publicUrl when given', () => {
    const fixed = hubOn({ server: { port: 8787 } });
    hubs.push(fixed);
    expect(fixed.publicUrl).toBe('http://127.0.0.1:8787');
    const proxied = hubOn({ server: { port: 0, publicUrl: 'https://hub.example.test/' }, integrations: { sandbox: {} } });
    hubs.push(proxied);
    expect(proxied.publicUrl).toBe('https://hub.example.test');
    expect(proxied.integrations.accounts.integration('sandbox')?.definition.oauth?.authorizeUrl).toBe('https://hub.example.test/sandbox/oauth/authorize');
  });

  it('a host that does not resolve or is not this machine refuses to bind with config_invalid naming the flag', async () => {
    const server = configSchema.parse({}).server;
    await expect(bindHttp(server, { port: 0, host: 'no-such-host.invalid' })).rejects.toMatchObject({
      code: 'config_invalid',
      message: expect.stringMatching(/^cannot listen on no-such-host\.invalid:0: the host name no-such-host\.invalid does not resolve .*--host/),
    });
    // TEST-NET-1 (RFC 5737): never an address of this machine.
    await expect(bindHttp(server, { port: 0, host: '192.0.2.1' })).rejects.toMatchObject({
      code: 'config_invalid',
      message: expect.stringContaining('192.0.2.1 is not an address of this machine (EADDRNOTAVAIL)'),
    });
  });

  it('bound on every interface without server.publicUrl, the hub warns that its links name loopback; with publicUrl it does not', async () => {
    for (const publicUrl of [undefined, 'https://hub.example.test']) {
      const lines: string[] = [];
      const parsed = configSchema.parse({ server: { host: '0.0.0.0', port: 0, ...(publicUrl ? { publicUrl } : {}) } });
      const hub = new Hub({ config: parsed, dataDir: ':memory:', log: capturedLogger(lines), hosted: [] });
      hubs.push(hub);
      const { port } = await hub.listen();
      const warned = lines.filter((l) => l.includes('listening on every interface without server.publicUrl'));
      if (publicUrl) expect(warned).toEqual([]);
      else {
        expect(warned).toHaveLength(1);
        expect(JSON.parse(warned[0]!)).toMatchObject({ level: 40, host: '0.0.0.0', url: `http://127.0.0.1:${port}` });
      }
    }
  });

  it('a plain-http public URL off loopback is warned of (clients refuse an authorization server there); https or loopback is not', async () => {
    for (const [publicUrl, warns] of [
      ['http://192.0.2.7:8787', true],
      ['http://hub.lan:8787', true],
      ['https://hub.example.test', false],
      ['http://localhost:8787', false],
      ['http://127.0.0.1:8787', false],
    ] as const) {
      const lines: string[] = [];
      const hub = new Hub({ config: configSchema.parse({ server: { port: 0, publicUrl } }), dataDir: ':memory:', log: capturedLogger(lines), hosted: [] });
      hubs.push(hub);
      await hub.listen();
      const warned = lines.filter((l) => l.includes('the public URL is plain http off loopback'));
      expect({ publicUrl, warned: warned.length }).toEqual({ publicUrl, warned: warns ? 1 : 0 });
    }
  });
});
