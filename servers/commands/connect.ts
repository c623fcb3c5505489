import type { HubConfig } from '../../src/config/schema.js';
import { DEFAULT_TENANT } from '../../src/identity/identity.js';
import { HubError } from '../../src/errors.js';
import { identityName } from '../../src/identity/names.js';
import { urlAwaitsListen, urlNotYetKnown } from '../../src/config/public-url.js';
import { linkableIntegrations } from '../../src/integrations/registry.js';
import { FLOW_TTL_MS } from '../../src/oauth/flows.js';
import { LINK_TTL_MS } from '../../src/oauth/links.js';
import { configFromFlags, makeDataDir, parse, progress, str, UsageError } from '../common.js';
import { hubAt, notesOn } from '../hub-at.js';
import { openStore } from '../store-context.js';

const USAGE = 'usage: switchboard connect <integration> [--user U] [--tenant T] [--timeout SECONDS] [--no-wait]';

/**
 * The longest a printed link can lead to a linked account: it is opened and confirmed within its own
 * life, and the sign-in that starts then has its flow's life to come back. Waiting past it only
 * delays "run the command again".
 */
const LINK_LIFE_S = (LINK_TTL_MS + FLOW_TTL_MS) / 1000;
const CUT = `the link expires after ${LINK_TTL_MS / 60_000} min, and a sign-in begun from it must end within ${FLOW_TTL_MS / 60_000} min`;

/** Prints a signed link that links an account, then waits (with a progress line) until it is linked. */
export async function connectCommand(argv: string[]): Promise<void> {
  const { flags, positionals } = parse(
    argv,
    { tenant: { type: 'string' }, timeout: { type: 'string' }, 'no-wait': { type: 'boolean' } },
    { command: 'connect', usage: USAGE, takes: 1 },
  );
  const integration = positionals[0];
  if (flags['help']) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!integration) throw new UsageError('connect', 'missing the integration to link', USAGE);
  // Checked before the link is made: a mistake here must not leave a link nobody waits for.
  // --no-wait exits once the link is printed: a --timeout beside it would be ignored, not obeyed.
  if (flags['no-wait'] === true && flags['timeout'] !== undefined)
    throw new UsageError('connect', '--timeout has no use with --no-wait (which exits once the link is printed): give one of them', USAGE);
  const asked = timeoutSeconds(str(flags['timeout']));
  // A --timeout past the link's life is cut to it rather than refused: scripts that pass a large
  // one keep working, and learn sooner that the link is spent.
  const waitS = Math.min(asked, LINK_LIFE_S);
  const who = { tenant: identityName(str(flags['tenant']) ?? DEFAULT_TENANT, 'tenant'), user: identityName(str(flags['user']) ?? 'local', 'user'), scopes: [] };
  // The config alone says whether the integration can be linked: a name it does not declare must
  // not leave a new data dir with a master key behind (README, CLI: a mistake changes nothing).
  const loaded = configFromFlags(flags, { makeNothing: true });
  const linkable = linkableIntegrations(loaded.config);
  if (!linkable.includes(integration)) throw new HubError('invalid_params', notLinkable(loaded.config, integration, linkable));
  if (urlAwaitsListen(loaded.config.server)) throw urlNotYetKnown();
  makeDataDir(loaded.data);
  const ctx = await openStore(loaded.config);
  try {
    const { accounts } = ctx.integrations;
    const started = Date.now();
    // Looked up before the link is made, so that it points where a hub serving this store answers.
    const at = await hubAt(ctx, ctx.integrations.publicUrl);
    if (at.movedFrom !== undefined) ctx.useUrl(at.url);
    // The link's life runs from here, after the look-up above.
    const minted = Date.now();
    process.stdout.write(`${accounts.linkUrl(who, integration)}\n`);
    progress(`Open the link above in a browser to link ${integration} for ${who.tenant}/${who.user}. Manage all accounts at: ${accounts.connectUrl(who)}`);
    for (const note of notesOn(at, ctx)) progress(note);
    if (flags['no-wait']) return;
    if (waitS < asked) progress(`Note: waiting at most ${waitS} s, not ${asked} s: ${CUT}.`);
    const deadline = Math.min(started + asked * 1000, minted + LINK_LIFE_S * 1000);
    let nextNote = 0;
    for (;;) {
      if (await accounts.linkedSince(who, integration, started)) {
        const c = (await accounts.connections.find(who.tenant, who.user, integration))!;
        if (process.stderr.isTTY) process.stderr.write('\n');
        process.stdout.write(`linked: ${c.id}\n`);
        return;
      }
      if (Date.now() > deadline) {
        if (process.stderr.isTTY) process.stderr.write('\n');
        const why = waitS < asked ? ` (${CUT})` : '';
        throw new HubError('oauth_flow_failed', `not linked within ${waitS} s${why}; run the command again for a new link`);
      }
      const waited = Math.round((Date.now() - started) / 1000);
      // A terminal gets a counter rewritten in place; a file or a pipe one line every half minute, not a `\r` line per check.
      if (process.stderr.isTTY) process.stderr.write(`\rwaiting for ${integration} to be linked… ${waited} s `);
      else if (waited >= nextNote) {
        process.stderr.write(`waiting for ${integration} to be linked… ${waited} s\n`);
        nextNote = waited + 30;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    ctx.close();
  }
}

/**
 * `--timeout`: whole seconds, 1 to 86,400; anything else is refused, never a wait without end. By
 * default LINK_LIFE_S, as long as the link can still link an account: a sign-in begun from it in
 * its last minute ends after the link's own 15 minutes, and a command that had stopped at 900 s
 * said "not linked" of an account the hub then linked. The wait stops at LINK_LIFE_S whatever this says.
 */
function timeoutSeconds(value: string | undefined): number {
  if (value === undefined) return LINK_LIFE_S;
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= 1 && n <= 86_400)) throw new UsageError('connect', `--timeout ${value}: use whole seconds from 1 to 86400`, USAGE);
  return n;
}

/** Why an integration cannot be linked: not declared, disabled, or an API called with a key from config. */
function notLinkable(config: HubConfig, integration: string, linkable: readonly string[]): string {
  const entry = Object.hasOwn(config.integrations, integration) ? config.integrations[integration] : undefined;
  // Integrations called with a key from the config (or none) are configured too, with nothing to link.
  const keyed = Object.entries(config.integrations)
    .filter(([, e]) => !e.disabled && e.type === 'custom' && e.oauth === undefined)
    .map(([name]) => name);
  const unlinked = keyed.length === 0 ? '' : `; ${keyed.join(', ')} ${keyed.length === 1 ? 'needs' : 'need'} no linking: called with what the config gives`;
  const others = `(configured: ${linkable.join(', ') || 'none'}${unlinked})`;
  if (entry?.disabled) return `integrations.${integration} is disabled in the config ${others}`;
  if (entry?.type === 'custom' && entry.oauth === undefined) {
    return entry.auth
      ? `integrations.${integration} is called with the key its "auth" gives in the config: there is no account to link, its tools work for every user as they are`
      : `integrations.${integration} declares neither "oauth" nor "auth": its API is called without credentials and there is no account to link`;
  }
  return `no integration "${integration}" is configured ${others}`;
}
