import { hashId } from '../../src/auth/ids.js';
import { HubError } from '../../src/errors.js';
import { configFromFlags, listLine, parse, str } from '../common.js';
import { systemClock } from '../../src/clock.js';
import { grantLine, openAsStore } from './clients-store.js';
import { grantJson } from './grant-json.js';

const USAGE = `usage: switchboard clients list [--user U] [--tenant T] [--json]
       switchboard clients revoke [--] <client_id>       end every grant of the client and forget its registration
       switchboard clients revoke --grant <grant_id>     end one grant`;

/**
 * OAuth clients users have authorized on the hub's authorization server: each grant (a user's
 * consent to a client) with its scopes and use. Revoking deletes the grant's codes and tokens at
 * once; hubs on the data dir close the client's open sessions and streams at their next look
 * (src/identity/revocation-watch.ts, every second).
 */
export async function clientsCommand(argv: string[]): Promise<void> {
  const { flags, positionals } = parse(
    argv,
    { tenant: { type: 'string' }, grant: { type: 'string' }, json: { type: 'boolean' } },
    { command: 'clients', usage: USAGE, takes: { list: 0, revoke: 1 }, flags: { list: ['user', 'tenant', 'json'], revoke: ['grant'] } },
  );
  const [sub, ...rest] = positionals;
  if (flags['help'] || sub === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const grantId = str(flags['grant']);
  const clientId = rest[0];
  if (sub === 'revoke' && grantId !== undefined && clientId !== undefined)
    throw new HubError('invalid_params', `clients revoke takes a client id or --grant, not both\n${USAGE}`);
  if (sub === 'revoke' && grantId === undefined && !clientId) throw new HubError('invalid_params', `clients revoke needs a client id or --grant\n${USAGE}`);
  // On a store that is there only (store_not_found otherwise): nothing to make, not even the per-user data dir.
  const { config } = configFromFlags(flags, { makeNothing: true });
  const store = await openAsStore(config, { existing: true });
  try {
    switch (sub) {
      case 'list': {
        const user = str(flags['user']);
        const tenant = str(flags['tenant']);
        const grants = await store.grants.list({ ...(user ? { user } : {}), ...(tenant ? { tenant } : {}) });
        if (flags['json']) {
          const shown = grants.map((g) => grantJson(g, systemClock.now()));
          process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
        } else if (grants.length === 0) process.stdout.write('no authorized clients\n');
        else for (const g of grants) listLine(grantLine(g));
        return;
      }
      case 'revoke': {
        if (grantId !== undefined) {
          if (!(await store.grants.revoke(grantId))) throw new HubError('not_found', `no grant ${grantId}`);
          process.stdout.write(`revoked grant ${grantId}\n`);
        } else if (clientId !== undefined) {
          // Revoking forgets the registration, so a client revoked before is as unknown as one never
          // registered: both are not_found (exit 1), as a second `tokens revoke` of a token is.
          const registered = (await store.store.asRecords.find('Client', hashId(clientId))) !== undefined;
          const n = await store.grants.revokeClient(clientId);
          if (!registered && n === 0) throw new HubError('not_found', `no registered client or grant of ${clientId} (never registered, or revoked already)`);
          process.stdout.write(`revoked ${n} grant${n === 1 ? '' : 's'} of ${clientId}\n`);
        }
        process.stderr.write('Hubs on this data dir refuse its tokens from now on and close its open sessions and streams within 2 s.\n');
        return;
      }
    }
  } finally {
    store.close();
  }
}
