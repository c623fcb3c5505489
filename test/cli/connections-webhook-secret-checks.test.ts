/**
 * `connections webhook-secret` keeps only a secret the webhook route can verify with: none for an
 * integration that takes no webhooks (its URL would answer 404 forever), and none the config
 * would refuse for the integration's scheme (every delivery would fail 401 bad_signature).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { openStore } from '../../servers/store-context.js';
import { runCli, tmpDir } from '../helpers/hub.js';

const OAUTH = { authorizeUrl: 'https://id.example.test/authorize', tokenUrl: 'https://id.example.test/token', clientId: 'c', clientSecret: 's' };

describe('connections webhook-secret checks the secret against the integration', () => {
  const dir = tmpDir();
  const file = join(dir.path, 'switchboard.config.json');
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    writeFileSync(
      file,
      JSON.stringify({
        dataDir: join(dir.path, 'data'),
        integrations: {
          plain: { type: 'custom', oauth: OAUTH, apiBaseUrl: 'https://api.plain.test', tools: {} },
          pay: {
            type: 'custom',
            oauth: OAUTH,
            apiBaseUrl: 'https://api.pay.test',
            tools: {},
            webhooks: { scheme: 'stripe', secrets: ['whsec_configured'] },
          },
        },
      }),
    );
    const ctx = await openStore(loadConfig({ file }).config);
    try {
      for (const integration of ['plain', 'pay']) {
        const c = await ctx.integrations.connections.link({
          tenant: 'default',
          user: 'alice',
          integration,
          tokens: { accessToken: 'a', tokenType: 'Bearer' },
          scopes: [],
        });
        ids[integration] = c.id;
      }
    } finally {
      ctx.close();
    }
  });
  afterAll(() => dir.remove());

  const run = (id: string, ...flags: string[]) => runCli(['connections', 'webhook-secret', id, ...flags, '--config', file], dir.path);
  const listed = async () => (await runCli(['connections', 'list', '--config', file], dir.path)).stdout;

  it('refuses a secret for an integration that takes no webhooks, and changes nothing', async () => {
    const r = await run(ids['plain']!, '--secret', 'some-secret-1234');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('integrations.plain takes no webhooks here');
    expect(r.stdout).toBe('');
    expect(await listed()).toMatch(new RegExp(`${ids['plain']}  .*webhook secret not set\\n`));
  });

  it("refuses a secret the integration's scheme cannot verify with, without echoing it, and takes a right one", async () => {
    const wrong = await run(ids['pay']!, '--secret', 'sk_test_51Habc');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('a Stripe endpoint secret starts with whsec_');
    expect(wrong.stderr).not.toContain('sk_test_51Habc');
    expect(await listed()).toMatch(new RegExp(`${ids['pay']}  .*webhook secret not set`));
    const right = await run(ids['pay']!, '--secret', 'whsec_endpoint_secret');
    expect(right.code, right.stderr).toBe(0);
    expect(await listed()).toMatch(new RegExp(`${ids['pay']}  .*webhook secret set`));
  });
});
