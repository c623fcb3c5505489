/**
 * Issue 13, acceptance 5: SIGKILL of one of three replicas while webhooks arrive and writes are
 * queued. Whatever was acknowledged (a 2xx to the provider, a tool result to the client) is not
 * lost, and no write reaches the API twice: the survivors take over the dead replica's leases at
 * once (its pid is gone, so its leases are known dead) and resend with the same idempotency key.
 * Its clients go on through the balancer: a 2026 client's next request lands on another replica;
 * a 2025 client's session was on the dead one, so the balancer sends it elsewhere, that replica
 * answers 404, and the client opens a new session and goes on, as the SDK's users do.
 */
import { randomBytes } from 'node:crypto';
import { Client, SdkHttpError, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import { type OidcServer, startOidcServer } from '../fakes/oidc.js';
import { type BucketApi, startBucketApi } from '../fixtures/bucket-api.js';
import { connectClient, type FaceClient } from '../helpers/clients.js';
import { eventually } from '../helpers/hub.js';
import { sessionHeaders } from '../helpers/raw-mcp.js';
import { linkIn, linkWithBrowser, TOOL } from '../oauth/support.js';
import { acmeWithWebhooks, type Cluster, describeCluster, inParallel, signedDelivery, startCluster } from '../replicas/cluster.js';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const VICTIM = 1;

/** A 2025-era SDK client as an application keeps one: on a 404 for its session it connects again and retries once. */
class LegacyApp {
  client: Client | undefined;
  transport: StreamableHTTPClientTransport | undefined;
  reconnects = 0;
  constructor(
    private readonly url: string,
    private readonly token: string,
  ) {}

  async connect(): Promise<void> {
    this.transport = new StreamableHTTPClientTransport(new URL(this.url), { requestInit: { headers: { authorization: `Bearer ${this.token}` } } });
    this.client = new Client({ name: 'legacy-app', version: '1.0.0' }, { versionNegotiation: { mode: 'legacy' } });
    await this.client.connect(this.transport);
  }

  async call(name: string, args: Record<string, unknown>): Promise<Awaited<ReturnType<Client['callTool']>>> {
    try {
      return await this.client!.callTool({ name, arguments: args });
    } catch (err) {
      // MCP 2025-11-25, Session Management: a 404 for a session id means start a new session.
      if (!(err instanceof SdkHttpError && err.status === 404)) throw err;
      this.reconnects++;
      await this.client!.close().catch(() => {});
      await this.connect();
      return this.client!.callTool({ name, arguments: args });
    }
  }
}

/** Which replica holds a 2025 session: the one that does not answer 404 for it. */
async function holderOf(cluster: Cluster, sessionId: string, token: string): Promise<number> {
  for (const [i, r] of cluster.replicas.entries()) {
    const res = await fetch(`${r.base}/mcp`, {
      method: 'POST',
      headers: sessionHeaders(token, sessionId),
      body: JSON.stringify({ jsonrpc: '2.0', id: 'probe', method: 'ping' }),
    }).catch(() => undefined);
    // A replica that is down holds nothing.
    await res?.arrayBuffer();
    if (res !== undefined && res.status !== 404) return i;
  }
  return -1;
}

describeCluster('three replicas, one killed under load', () => {
  let oidc: OidcServer;
  let api: BucketApi;
  let cluster: Cluster;
  let modern: FaceClient;
  const legacy: LegacyApp[] = [];
  let token: string;

  beforeAll(async () => {
    oidc = await startOidcServer();
    api = await startBucketApi({ perSecond: 200, burst: 20, echo: true, trace: true });
    cluster = await startCluster({
      config: {
        integrations: {
          acme: acmeWithWebhooks(oidc.integration(), SECRET),
          notes: {
            type: 'custom',
            title: 'Notes',
            apiBaseUrl: api.url,
            auth: { type: 'apiKey', header: 'x-api-key', value: 'k-notes' },
            idempotencyHeader: 'Idempotency-Key',
            rateLimit: { perApp: { perSecond: 180, burst: 20 } },
            tools: {
              create: { description: 'Creates a note', method: 'POST', path: '/notes', input: { type: 'object', properties: { text: { type: 'string' } } } },
            },
          },
        },
        outbox: { waitMs: 30_000 },
      },
    });
    await oidc.allowRedirectUri(`${cluster.url}/oauth/callback`);
    token = await cluster.token('alice');
    modern = await connectClient('v2-auto', { transport: 'http', url: cluster.mcpUrl, token });
    // Deliveries name alice's provider account, so they are routed to her connection and processed.
    await linkWithBrowser(new Browser(), linkIn(await modern.callTool(TOOL, {})), 'alice@acme');
    // Sessions open on whichever replica the balancer picks: keep opening until one is on the victim.
    for (let i = 0; i < 12 && legacy.length === 0; i++) {
      const app = new LegacyApp(cluster.mcpUrl, token);
      await app.connect();
      if ((await holderOf(cluster, app.transport!.sessionId!, token)) === VICTIM) legacy.push(app);
      else {
        await app.client!.close();
        // Each connect is three requests (initialize, initialized, the GET stream): one more moves
        // the balancer's round robin so the next session opens on the next replica.
        await (await fetch(`${cluster.url}/healthz`)).arrayBuffer();
      }
    }
    expect(legacy).toHaveLength(1);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([modern?.close(), ...legacy.map((l) => l.client?.close())].map((p) => p?.catch(() => {})));
    await cluster?.close();
    await api?.close();
    await oidc?.close();
  });

  it('loses nothing acknowledged, applies nothing twice, and its clients go on elsewhere', { timeout: 90_000 }, async () => {
    const acked = new Set<string>();
    const written: string[] = [];
    let sent = 0;
    const killed = { done: false };
    const killAfterAFew = async () => {
      // A third of the way into the load, while deliveries and writes are in flight on every replica.
      if (++sent === 60 && !killed.done) {
        killed.done = true;
        await cluster.kill(VICTIM, 'SIGKILL');
      }
    };
    const hooks = Array.from({ length: 100 }, (_, i) => `evt_${i}`)
      .flatMap((id) => [id, id])
      .map((id) => async () => {
        const body = JSON.stringify({ type: 'ticket.updated', account_id: 'alice@acme', data: { id } });
        await killAfterAFew();
        const res = await fetch(`${cluster.url}/webhooks/acme`, { method: 'POST', headers: signedDelivery(SECRET, id, body), body }).catch(() => undefined);
        await res?.arrayBuffer().catch(() => {});
        if (res?.ok) acked.add(id);
      });
    const writes = Array.from({ length: 80 }, (_, i) => async () => {
      await killAfterAFew();
      // A write whose request died with the replica is not acknowledged; the next one must work.
      const r = await modern.callTool('notes__create', { text: `w-${i}` }).catch(() => undefined);
      if (r && !r.isError) written.push(`w-${i}`);
    });
    await inParallel(
      [...hooks, ...writes].sort(() => 0.5 - Math.random()),
      24,
    );
    expect(killed.done).toBe(true);

    // The clients go on: the 2026 one at once, the 2025 one after one 404 and a new session.
    expect((await modern.callTool('notes__create', { text: 'after-modern' })).isError).toBe(false);
    const app = legacy[0]!;
    const after = await app.call('notes__create', { text: 'after-legacy' });
    expect(after.isError ?? false, JSON.stringify(after.content)).toBe(false);
    expect(app.reconnects).toBe(1);
    expect(await holderOf(cluster, app.transport!.sessionId!, token)).not.toBe(VICTIM);

    // Every acknowledged delivery is an event, processed, however many copies and crashes it met.
    const events = await eventually(async () => {
      const rows = await cluster.query<{ state: string }>('SELECT state FROM inbox_events');
      return rows.every((r) => r.state === 'done') ? rows : undefined;
    }, 20_000);
    const stored = await cluster.query<{ delivery_id: string }>('SELECT delivery_id FROM webhook_deliveries');
    expect(events).toHaveLength(stored.length);
    expect([...acked].filter((id) => !stored.some((s) => s.delivery_id === id))).toEqual([]);

    // Every acknowledged write reached the API, and none twice: the dead replica's jobs were resent
    // by the others with their idempotency key, so the API replayed rather than applied again.
    const jobs = await eventually(async () => {
      const rows = await cluster.query<{ state: string }>('SELECT state FROM outbox_jobs');
      return rows.every((r) => r.state === 'done') ? rows : undefined;
    }, 30_000);
    expect(jobs.length).toBeGreaterThanOrEqual(written.length + 2);
    expect([...api.appliedByKey.values()].filter((n) => n !== 1)).toEqual([]);
    expect(api.stats.applied).toBe(jobs.length);
    const applied = new Set(api.arrivals.map((a) => (JSON.parse(a.body) as { text: string }).text));
    expect([...written, 'after-modern', 'after-legacy'].filter((t) => !applied.has(t))).toEqual([]);
  });
});
