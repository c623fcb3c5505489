import { resolve } from 'node:path';
import type { HostedProvider } from '../../src/integrations/hosted.js';
import { createSandbox } from './index.js';

/** The integration name and path the sandbox definition (integrations/sandbox) points at. */
const NAME = 'sandbox';

/**
 * The sandbox provider as the hub hosts it: mounted at /sandbox of the hub's own listener, with
 * the hub as its one client. Handed to the hub by `serve` and `stdio`.
 */
export function hostedSandbox(): HostedProvider {
  return {
    integration: NAME,
    clientId: 'switchboard',
    mount(app, ctx) {
      const sandbox = createSandbox({
        issuer: `${ctx.publicUrl}/${NAME}`,
        clients: [{ id: ctx.client.id, secret: ctx.client.secret, redirectUris: [ctx.client.redirectUri], name: 'Switchboard' }],
        dbFile: ctx.dataDir === ':memory:' ? ':memory:' : resolve(ctx.dataDir, 'sandbox.db'),
        clock: ctx.clock,
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
