/**
 * `switchboard connections list` (text) shows the values each connection's link learned for its
 * API base (README: A base per linked account), as `--json` shows them as `apiValues`: where that
 * user's calls go (a Jira cloud id, a Salesforce instance URL), none of it a secret. A value is
 * printed made printable: it came from a provider.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { openStore } from '../../servers/store-context.js';
import { runCli, tmpDir } from '../helpers/hub.js';

let dir: ReturnType<typeof tmpDir>;
let data: string;
const ids: Record<string, string> = {};

beforeEach(async () => {
  dir = tmpDir();
  data = join(dir.path, 'data');
  const ctx = await openStore(configSchema.parse({ dataDir: data }));
  try {
    const repo = ctx.integrations.connections;
    const link = async (user: string, apiValues: Record<string, string>, accountId?: string) =>
      (
        await repo.link({
          tenant: 'default',
          user,
          integration: 'jira',
          tokens: { accessToken: `at-${user}`, tokenType: 'Bearer' },
          scopes: [],
          apiValues,
          ...(accountId === undefined ? {} : { accountId }),
        })
      ).id;
    ids['alice'] = await link('alice', { cloudId: 'cloud-a' }, 'acc-alice');
    ids['bob'] = await link('bob', { instanceUrl: 'https://bob.my.salesforce.com', site: 'x\u001b[2Jy' });
    ids['carol'] = await link('carol', {});
  } finally {
    ctx.close();
  }
});
afterEach(() => dir.remove());

it("lists each connection's learned values beside its account, never another user's", async () => {
  const r = await runCli(['connections', 'list', '--data', data], dir.path);
  expect(r.code, r.stderr).toBe(0);
  const line = (user: string) => r.stdout.split('\n').find((l) => l.startsWith(`${ids[user]}  default/${user}  `)) ?? '';
  expect(line('alice')).toContain('account=acc-alice  cloudId=cloud-a  webhook secret not set');
  expect(line('bob')).toContain('account=-  instanceUrl=https://bob.my.salesforce.com  site=x');
  // A provider's value cannot drive the terminal.
  expect(r.stdout).not.toContain('\u001b');
  expect(line('carol')).toContain('account=-  webhook secret not set');
  expect(line('carol')).not.toContain('=cloud');
  expect(line('alice')).not.toContain('salesforce');
});
