import { systemClock } from '../../src/clock.js';
import { HubError } from '../../src/errors.js';
import { ApiTokens } from '../../src/identity/tokens.js';
import { openDb } from '../../src/store/db.js';
import { resolve } from 'node:path';
import { configFromFlags, parse, str } from '../common.js';

const USAGE = `usage: switchboard tokens create --user U [--tenant T] [--label L] [--scopes "mcp admin"]
       switchboard tokens list [--all] [--json]
       switchboard tokens revoke <token-id>`;

export async function tokensCommand(argv: string[]): Promise<void> {
  const { flags, positionals } = parse(argv, {
    tenant: { type: 'string' },
    label: { type: 'string' },
    scopes: { type: 'string' },
    all: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const [sub, ...rest] = positionals;
  if (flags['help'] || sub === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const { config } = configFromFlags(flags);
  const db = openDb({ file: resolve(config.dataDir, 'switchboard.db'), clock: systemClock });
  try {
    const tokens = new ApiTokens(db, systemClock);
    switch (sub) {
      case 'create': {
        const user = str(flags['user']);
        if (!user) throw new HubError('invalid_params', `tokens create needs --user\n${USAGE}`);
        const scopes = str(flags['scopes'])?.split(/[\s,]+/).filter(Boolean);
        const { token, record } = tokens.create({ user, tenant: str(flags['tenant']), label: str(flags['label']), ...(scopes ? { scopes } : {}) });
        process.stderr.write(`Created ${record.id} for ${record.tenant}/${record.user}. The token is shown once; store it now:\n`);
        process.stdout.write(`${token}\n`);
        return;
      }
      case 'list': {
        const list = tokens.list({ includeRevoked: flags['all'] === true });
        if (flags['json']) {
          process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
          return;
        }
        if (list.length === 0) {
          process.stdout.write('no tokens\n');
          return;
        }
        for (const t of list) {
          const state = t.revokedAt ? `revoked ${new Date(t.revokedAt).toISOString()}` : 'active';
          const used = t.lastUsedAt ? new Date(t.lastUsedAt).toISOString() : 'never';
          process.stdout.write(`${t.id}  ${t.tenant}/${t.user}  scopes=${t.scopes.join(',')}  created=${new Date(t.createdAt).toISOString()}  last-used=${used}  ${state}${t.label ? `  "${t.label}"` : ''}\n`);
        }
        return;
      }
      case 'revoke': {
        const id = rest[0];
        if (!id) throw new HubError('invalid_params', `tokens revoke needs a token id\n${USAGE}`);
        if (!tokens.revoke(id)) throw new HubError('not_found', `no active token ${id}`);
        process.stdout.write(`revoked ${id}\n`);
        // The hubs notice by polling the store (src/identity/revocation-watch.ts, every second).
        process.stderr.write('Hubs on this data dir refuse it from now on and close its open sessions and streams within 2 s.\n');
        return;
      }
      default:
        throw new HubError('invalid_params', `unknown tokens command "${sub}"\n${USAGE}`);
    }
  } finally {
    db.close();
  }
}
