import { Invites, inviteLink } from '../../src/auth/invites.js';
import { systemClock } from '../../src/clock.js';
import { publicUrlOf, urlNotYetKnown } from '../../src/config/public-url.js';
import { HubError } from '../../src/errors.js';
import { DEFAULT_TENANT } from '../../src/identity/identity.js';
import { configFromFlags, parse, printable, str } from '../common.js';
import { openAsStore } from './clients-store.js';
import { parseLifetime } from './tokens.js';

const USAGE = `usage: switchboard users invite <user> [--tenant T] [--expires 24h]

Prints a one-time sign-in link for the user: pasted into the hub's sign-in page (the page an
OAuth client such as Claude or mcp-remote opens), it signs the user in once, instead of a hub token.`;

export async function usersCommand(argv: string[]): Promise<void> {
  const { flags, positionals } = parse(
    argv,
    { tenant: { type: 'string' }, expires: { type: 'string' } },
    { command: 'users', usage: USAGE, takes: { invite: 1 } },
  );
  const [sub, user] = positionals;
  if (flags['help'] || sub === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!user) throw new HubError('invalid_params', `users invite needs a user name\n${USAGE}`);
  const { config } = configFromFlags(flags);
  const publicUrl = publicUrlOf(config.server);
  if (publicUrl === undefined) throw urlNotYetKnown();
  const expires = str(flags['expires']);
  const store = await openAsStore(config);
  try {
    const invites = new Invites(store.store.asRecords, store.vault, systemClock);
    const tenant = str(flags['tenant']) ?? DEFAULT_TENANT;
    const { code, expiresAt } = await invites.create({ user, tenant }, expires === undefined ? undefined : parseLifetime(expires));
    process.stderr.write(
      `A one-time sign-in link for ${printable(`${tenant}/${user}`)}, valid until ${new Date(expiresAt).toISOString()}. Send it to the user privately:\n`,
    );
    process.stdout.write(`${inviteLink(publicUrl, code)}\n`);
  } finally {
    store.close();
  }
}
