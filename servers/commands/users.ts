import { checkInvite, DEFAULT_INVITE_MS, Invites, inviteLink } from '../../src/auth/invites.js';
import { systemClock } from '../../src/clock.js';
import { publicUrlOf, urlNotYetKnown } from '../../src/config/public-url.js';
import { HubError } from '../../src/errors.js';
import { DEFAULT_TENANT } from '../../src/identity/identity.js';
import { configFromFlags, makeDataDir, parse, printable, progress, str } from '../common.js';
import { hubAt, notesOn } from '../hub-at.js';
import { openStore } from '../store-context.js';
import { parseLifetime } from './tokens.js';

const USAGE = `usage: switchboard users invite <user> [--tenant T] [--expires 24h]

Prints a one-time sign-in link for the user: pasted into the hub's sign-in page (the page an
OAuth client such as Claude or mcp-remote opens), it signs the user in once, instead of a hub token.`;

export async function usersCommand(argv: string[]): Promise<void> {
  const { flags, positionals } = parse(
    argv,
    { tenant: { type: 'string' }, expires: { type: 'string' } },
    {
      command: 'users',
      usage: USAGE,
      takes: { invite: 1 },
      flags: { invite: ['tenant', 'expires'] },
      userRefused: { invite: 'the user to invite is its argument (users invite <user>)' },
    },
  );
  const [sub, user] = positionals;
  if (flags['help'] || sub === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!user) throw new HubError('invalid_params', `users invite needs a user name\n${USAGE}`);
  // Everything the config and the arguments decide is checked before the store is opened (or
  // made): `--expires 40d` must not leave a new data dir with a master key behind (README, CLI).
  const loaded = configFromFlags(flags, { makeNothing: true });
  const url = publicUrlOf(loaded.config.server);
  if (url === undefined) throw urlNotYetKnown();
  const who = { user, tenant: str(flags['tenant']) ?? DEFAULT_TENANT };
  const expires = str(flags['expires']);
  const lifetimeMs = expires === undefined ? undefined : parseLifetime(expires);
  checkInvite(who, lifetimeMs ?? DEFAULT_INVITE_MS);
  makeDataDir(loaded.data);
  const ctx = await openStore(loaded.config);
  try {
    // The sign-in page of the hub serving this store, wherever it answers (as `connect` does).
    const at = await hubAt(ctx, url);
    for (const note of notesOn(at, ctx)) progress(note);
    const invites = new Invites(ctx.store.asRecords, ctx.vault, systemClock);
    const { code, expiresAt } = await invites.create(who, lifetimeMs);
    process.stderr.write(
      `A one-time sign-in link for ${printable(`${who.tenant}/${who.user}`)}, valid until ${new Date(expiresAt).toISOString()}. Send it to the user privately:\n`,
    );
    process.stdout.write(`${inviteLink(at.url, code)}\n`);
  } finally {
    ctx.close();
  }
}
