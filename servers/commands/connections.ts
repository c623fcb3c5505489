import { HubError } from '../../src/errors.js';
import { parse, str } from '../common.js';
import { openStoreContext } from '../store-context.js';

const USAGE = `usage: switchboard connections list [--user U] [--tenant T] [--all] [--json]
       switchboard connections revoke <connection-id>`;

export async function connectionsCommand(argv: string[]): Promise<void> {
  const { flags, positionals } = parse(argv, { tenant: { type: 'string' }, all: { type: 'boolean' }, json: { type: 'boolean' } });
  const [sub, id] = positionals;
  if (flags['help'] || (sub !== 'list' && sub !== 'revoke')) {
    process.stdout.write(`${USAGE}\n`);
    if (!flags['help']) process.exitCode = 2;
    return;
  }
  const ctx = await openStoreContext(flags);
  try {
    const store = ctx.integrations.accounts.connections;
    if (sub === 'list') {
      const tenant = str(flags['tenant']);
      const user = str(flags['user']);
      const list = await store.list({ ...(tenant ? { tenant } : {}), ...(user ? { user } : {}), includeRevoked: flags['all'] === true });
      if (flags['json']) {
        process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      if (list.length === 0) process.stdout.write('no connections\n');
      const now = Date.now();
      for (const c of list) {
        const exp =
          c.accessExpiresAt === null
            ? 'expiry unknown'
            : c.accessExpiresAt > now
              ? `access token valid ${Math.round((c.accessExpiresAt - now) / 60000)} min`
              : 'access token expired (refreshed on next use)';
        process.stdout.write(`${c.id}  ${c.tenant}/${c.user}  ${c.integration}  ${c.state}  ${c.state === 'active' ? exp : (c.reason ?? '')}\n`);
      }
      return;
    }
    if (!id) throw new HubError('invalid_params', `connections revoke needs a connection id\n${USAGE}`);
    const c = await store.get(id);
    if (!c || c.state === 'revoked') throw new HubError('not_found', `no live connection ${id}`);
    const r = await ctx.integrations.accounts.revoke(c);
    process.stdout.write(`revoked ${id}${r.providerRevoked ? ' (the provider confirmed)' : ''}\n`);
    if (r.warning) process.stderr.write(`warning: ${r.warning}\n`);
  } finally {
    ctx.close();
  }
}
