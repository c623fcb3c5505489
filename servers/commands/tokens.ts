import { systemClock } from '../../src/clock.js';
import { HubError, isHubError } from '../../src/errors.js';
import { z } from 'zod';
import type { HubConfig } from '../../src/config/schema.js';
import { commandLogger, configFromFlags, type Flags, listLine, parse, str, UsageError } from '../common.js';
import { type NewToken, newToken } from '../../src/identity/tokens.js';
import { openConfiguredStore } from '../store-context.js';
import { type AsStore, grantLine, openAsStore } from './clients-store.js';
import { grantJson } from './grant-json.js';

async function withAsStore<T>(config: HubConfig, fn: (s: AsStore) => Promise<T>): Promise<T> {
  const store = await openAsStore(config);
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

const USAGE = `usage: switchboard tokens create --user U [--tenant T] [--label L] [--scopes "mcp metrics admin"] [--expires 30d]
       switchboard tokens list [--user U] [--tenant T] [--all] [--json]   hub API tokens, then the grants OAuth clients hold
       switchboard tokens list --oauth [--user U] [--tenant T] [--json]   the grants only (see also: switchboard clients)
       switchboard tokens revoke <token-id>`;

/** The longest lifetime the token store takes (src/identity/tokens.ts), in the unit --expires is mostly written in. */
const MAX_TOKEN_DAYS = 3650;

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const lifetimeSchema = z
  .string()
  .regex(/^[1-9][0-9]{0,5}[smhd]$/, 'use a whole number and a unit: s, m, h or d (30d, 12h, 90m)')
  .transform((v) => Number(v.slice(0, -1)) * UNIT_MS[v.at(-1) as keyof typeof UNIT_MS]);

/** `--expires 30d` → milliseconds; a typo is an error naming the flag, never a token that never expires. */
export function parseLifetime(value: string): number {
  const r = lifetimeSchema.safeParse(value);
  if (!r.success) throw new HubError('invalid_params', `--expires ${value}: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
}

/**
 * What `tokens create` asks the store for, checked as the store checks it (`newToken`: the user and
 * tenant names, the scopes, the lifetime) before any store is opened: `--scopes bogus` or
 * `--user bad/name` must not leave a new data dir with a master key behind (README, CLI).
 */
function newTokenInput(flags: Flags): NewToken {
  const scopes = str(flags['scopes'])
    ?.split(/[\s,]+/)
    .filter(Boolean);
  const expires = str(flags['expires']);
  const input: NewToken = {
    user: str(flags['user'])!,
    tenant: str(flags['tenant']),
    label: str(flags['label']),
    expiresInMs: expires === undefined ? undefined : parseLifetime(expires),
    ...(scopes ? { scopes } : {}),
  };
  // Throws what tokens.create would; the token it makes is dropped unseen.
  try {
    newToken(input, systemClock.now());
  } catch (err) {
    // The store says the lifetime in milliseconds; the user wrote --expires in days or hours.
    if (expires !== undefined && isHubError(err) && err.message.startsWith('token lifetime'))
      throw new HubError('invalid_params', `--expires ${expires}: a token lives at most ${MAX_TOKEN_DAYS}d (ten years)`);
    throw err;
  }
  return input;
}

export async function tokensCommand(argv: string[]): Promise<void> {
  const { flags, positionals } = parse(
    argv,
    {
      tenant: { type: 'string' },
      label: { type: 'string' },
      scopes: { type: 'string' },
      expires: { type: 'string' },
      all: { type: 'boolean' },
      json: { type: 'boolean' },
      oauth: { type: 'boolean' },
    },
    {
      command: 'tokens',
      usage: USAGE,
      takes: { create: 0, list: 0, revoke: 1 },
      flags: { create: ['user', 'tenant', 'label', 'scopes', 'expires'], list: ['user', 'tenant', 'all', 'json', 'oauth'], revoke: [] },
    },
  );
  const [sub, ...rest] = positionals;
  if (flags['help'] || sub === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  // A usage mistake changes nothing: every argument is checked before the store is opened (or made).
  if (sub === 'create' && !str(flags['user'])) throw new HubError('invalid_params', `tokens create needs --user\n${USAGE}`);
  const created = sub === 'create' ? newTokenInput(flags) : undefined;
  // Revoked grants are not kept, so --all (which adds revoked tokens) would be ignored beside --oauth.
  if (sub === 'list' && flags['oauth'] === true && flags['all'] === true)
    throw new UsageError('tokens', '--all has no use with --oauth: a revoked grant is not kept, so every grant listed is active or expired', USAGE);
  if (sub === 'revoke' && !rest[0]) throw new HubError('invalid_params', `tokens revoke needs a token id\n${USAGE}`);
  // Only `create` makes the store, and so the per-user data dir; the others need one that is there.
  const { config } = configFromFlags(flags, { makeNothing: sub !== 'create' });
  const store = await openConfiguredStore(config, commandLogger(), { existing: sub !== 'create' });
  try {
    // A command that makes the store makes its master key too (README, Data dir), unless the
    // environment holds it: a later `doctor` then finds the data dir whole, and makes nothing. A
    // token needs no sealed secret, so a data dir whose key is elsewhere still gets its token.
    if (sub === 'create')
      await store.vault.open().catch((err: unknown) => {
        if (!(isHubError(err) && err.code === 'vault_key_missing')) throw err;
      });
    const tokens = store.apiTokens;
    switch (sub) {
      case 'create': {
        const { token, record } = await tokens.create(created!);
        const until = record.expiresAt === undefined ? '' : ` It expires ${new Date(record.expiresAt).toISOString()}.`;
        process.stderr.write(
          `Created ${record.id} for ${record.tenant}/${record.user} with scopes ${record.scopes.join(',')}.${until} The token is shown once; store it now:\n`,
        );
        process.stdout.write(`${token}\n`);
        return;
      }
      case 'list': {
        // --user and --tenant narrow the list to whose tokens and grants they are.
        const [user, tenant] = [str(flags['user']), str(flags['tenant'])];
        const whose = (t: { user: string; tenant: string }) => (user === undefined || t.user === user) && (tenant === undefined || t.tenant === tenant);
        // OAuth grants are sealed in the vault: it is opened only when there are some.
        const hasGrants = (await store.asRecords.list('Grant')).length > 0;
        const grants = (hasGrants ? await withAsStore(config, (s) => s.grants.list()) : []).filter(whose);
        const now = systemClock.now();
        const shownGrants = grants.map((g) => grantJson(g, now));
        if (flags['oauth']) {
          if (flags['json']) process.stdout.write(`${JSON.stringify(shownGrants, null, 2)}\n`);
          else if (grants.length === 0) process.stdout.write('no OAuth grants\n');
          else for (const g of grants) listLine(grantLine(g));
          return;
        }
        const list = (await tokens.list({ includeRevoked: flags['all'] === true })).filter(whose);
        const stateOf = (t: (typeof list)[number]) => (t.revokedAt ? 'revoked' : t.expiresAt !== undefined && t.expiresAt <= now ? 'expired' : 'active');
        if (flags['json']) {
          // Every key on every token (null when unset), and the state the text list shows; then the
          // grants, as the text list shows them. One array, so a reader of the tokens alone reads
          // on; `kind` tells the two apart (a grant has a grantId, never an id `tokens revoke` takes).
          const shown = [...list.map((t) => ({ kind: 'token' as const, ...t, expiresAt: t.expiresAt ?? null, state: stateOf(t) })), ...shownGrants];
          process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
          return;
        }
        if (list.length === 0 && grants.length === 0) {
          process.stdout.write('no tokens\n');
          return;
        }
        for (const t of list) {
          const state = t.revokedAt ? `revoked ${new Date(t.revokedAt).toISOString()}` : stateOf(t);
          const used = t.lastUsedAt ? new Date(t.lastUsedAt).toISOString() : 'never';
          const expiry = t.expiresAt === undefined ? 'never' : new Date(t.expiresAt).toISOString();
          listLine(
            `${t.id}  ${t.tenant}/${t.user}  scopes=${t.scopes.join(',')}  created=${new Date(t.createdAt).toISOString()}  expires=${expiry}  last-used=${used}  ${state}${t.label ? `  "${t.label}"` : ''}`,
          );
        }
        if (grants.length > 0) {
          process.stdout.write(`\nOAuth grants (end one with: switchboard clients revoke --grant ID):\n`);
          for (const g of grants) listLine(grantLine(g));
        }
        return;
      }
      case 'revoke': {
        const id = rest[0]!;
        // The grants a user signed in with this token end too: the credential that vouched for them is gone.
        // They are noted before the token is revoked: a hub on this data dir notices the revocation
        // within a second and may end them first, and the count said here must not depend on who won.
        const signedIn = (await store.asRecords.list('GrantInfo')).length > 0;
        const revoke = async (s: AsStore | undefined): Promise<string[]> => {
          const held = s ? await s.grants.signedInWithToken(id) : [];
          if (!(await tokens.revoke(id))) throw new HubError('not_found', `no active token ${id}`);
          process.stdout.write(`revoked ${id}\n`);
          for (const g of held) await s?.grants.revoke(g);
          return held;
        };
        const ended = signedIn ? await withAsStore(config, revoke) : await revoke(undefined);
        if (ended.length > 0) process.stdout.write(`ended ${ended.length} OAuth grant${ended.length === 1 ? '' : 's'} signed in with it\n`);
        // The hubs notice by polling the store (src/identity/revocation-watch.ts, every second).
        process.stderr.write('Hubs on this data dir refuse it from now on and close its open sessions and streams within 2 s.\n');
        return;
      }
    }
  } finally {
    await store.close();
  }
}
