/**
 * Issue 13, acceptance 2: 100 webhooks, each delivered 10 times (a provider's retries racing its
 * first try), spread over three replicas by the balancer, are each processed once. Counted from
 * what was done, not from the 2xx answers every redelivery gets too: the workers' attempts on each
 * event in the shared inbox, and the events alice reads back through `acme__recent_events`.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import { type OidcServer, startOidcServer } from '../fakes/oidc.js';
import { connectClient, type FaceClient } from '../helpers/clients.js';
import { eventually } from '../helpers/hub.js';
import { linkIn, linkWithBrowser, TOOL } from '../oauth/support.js';
import { acmeWithWebhooks, type Cluster, describeCluster, hitsByReplica, inParallel, signedDelivery, startCluster } from '../replicas/cluster.js';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

describeCluster('three replicas, 100 webhooks delivered 10 times each', () => {
  let oidc: OidcServer;
  let cluster: Cluster;
  let alice: FaceClient;

  beforeAll(async () => {
    oidc = await startOidcServer();
    cluster = await startCluster({ config: { integrations: { acme: acmeWithWebhooks(oidc.integration(), SECRET) } } });
    await oidc.allowRedirectUri(`${cluster.url}/oauth/callback`);
    alice = await connectClient('v2-auto', { transport: 'http', url: cluster.mcpUrl, token: await cluster.token('alice') });
    await linkWithBrowser(new Browser(), linkIn(await alice.callTool(TOOL, {})), 'alice@acme');
  }, 180_000);

  afterAll(async () => {
    await alice?.close().catch(() => {});
    await cluster?.close();
    await oidc?.close();
  });

  it('processes each event once', { timeout: 120_000 }, async () => {
    const ids = Array.from({ length: 100 }, (_, i) => `msg_${i}`);
    // Every id ten times, interleaved, so one id's copies arrive together on different replicas.
    const sends = Array.from({ length: 10 }, () => ids)
      .flat()
      .map((id) => async () => {
        const body = JSON.stringify({ type: 'ticket.updated', account_id: 'alice@acme', data: { id } });
        const res = await fetch(`${cluster.url}/webhooks/acme`, { method: 'POST', headers: signedDelivery(SECRET, id, body), body });
        await res.arrayBuffer();
        return res.status;
      });
    const hitsBefore = hitsByReplica(cluster);

    const statuses = await inParallel(sends, 20);

    expect(statuses.filter((s) => s < 200 || s >= 300)).toEqual([]);
    const spread = hitsByReplica(cluster).map((h, i) => h - hitsBefore[i]!);
    expect(spread.every((h) => h >= 300)).toBe(true);
    const settled = await eventually(async () => {
      const rows = await cluster.query<{ state: string; attempts: number; n: string }>(
        'SELECT state, attempts, count(*) AS n FROM inbox_events GROUP BY state, attempts',
      );
      return rows.some((r) => r.state !== 'done') ? undefined : rows;
    }, 30_000);
    // One event per delivery id, each done, its handler run exactly once (an attempt is one run).
    expect(settled.map((r) => ({ state: r.state, attempts: r.attempts, n: Number(r.n) }))).toEqual([{ state: 'done', attempts: 1, n: 100 }]);
    const deliveries = await cluster.query<{ delivery_id: string }>('SELECT delivery_id FROM webhook_deliveries ORDER BY delivery_id');
    expect(deliveries.map((d) => d.delivery_id)).toEqual([...ids].sort());
    // What alice sees: each of her events once.
    const page = (await alice.callTool('acme__recent_events', { limit: 100 })).structuredContent as { events: Array<{ payload: { data: { id: string } } }> };
    expect(page.events.map((e) => e.payload.data.id).sort()).toEqual([...ids].sort());
  });
});
