import { resolve } from 'node:path';
import type { HostedProvider } from '../../src/integrations/hosted.js';
import type { createSandbox as CreateSandbox } from './index.js';

/** The integration name and path the sandbox definition (integrations/sandbox) points at. */
const NAME = 'sandbox';

/**
 * The sandbox provider as the hub hosts it: mounted at /sandbox of the hub's own listener, with
 * the hub as its one client. Handed to the hub by `serve` and `stdio`.
 */
export function hostedSandbox(): HostedProvider {
  // The sandbox (express routes, its own store) loads with the hub's HTTP listener, not at start.
  let createSandbox: typeof CreateSandbox | undefined;
  return {
    integration: NAME,
    clientId: 'switchboard',
    async load() {
      ({ createSandbox } = await import('./index.js'));
    },
    mount(app, ctx) {
      if (!createSandbox) throw new Error('the hosted sandbox was mounted before it was loaded');
      const sandbox = createSandbox({
        issuer: `${ctx.publicUrl}/${NAME}`,
        clients: [{ id: ctx.client.id, secret: ctx.client.secret, redirectUris: [ctx.client.redirectUri], name: 'Switchboard' }],
        dbFile: ctx.dataDir === ':memory:' ? ':memory:' : resolve(ctx.dataDir, 'sandbox.db'),
        clock: ctx.clock,
        ...(ctx.webhooks ? { webhooks: ctx.webhooks } : {}),
      });
      // RFC 8414 §3.1: the metadata of an issuer with a path lives at the host root, path appended.
      app.get(sandbox.wellKnownPath, (_req, res) => {
        res.json(sandbox.metadata);
      });
      app.use(`/${NAME}`, sandbox.router);
      return () => sandbox.close();
    },
  };
}
