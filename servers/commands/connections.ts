import { z } from 'zod';
import type { Connection } from '../../src/connections/types.js';
import { secretProblem } from '../../src/definition/webhooks.js';
import { HubError } from '../../src/errors.js';
import { listLine, parse, printable, progress, str } from '../common.js';
import { hubAt, notesOn } from '../hub-at.js';
import { openStoreContext, type StoreContext } from '../store-context.js';

const USAGE = `usage: switchboard connections list [--user U] [--tenant T] [--all] [--json]
       switchboard connections revoke <connection-id>
       switchboard connections webhook-secret <connection-id> [--secret S | --clear]
                 (without --secret the secret is read from stdin, so it stays out of the process list)`;

// A secret is one line of printable text: what a provider shows for copying.
const secretSchema = z
  .string()
  .trim()
  .min(1, 'the secret is empty')
  .max(1024, 'the secret is over 1024 characters')
  .regex(/^[\x21-\x7e]+$/, 'the secret is one word of printable ASCII');

/** What `list` shows of a connection's webhooks: its account, its URL, whether it has its own secret (never the value). */
function webhookFacts(ctx: StoreContext, c: Connection) {
  // Without a known public URL (port 0: the OS picks it when a hub listens) the path alone.
  const path = `/webhooks/${c.integration}/${c.webhookEndpoint}`;
  const url = c.webhookEndpoint === null ? null : ctx.publicUrl === undefined ? path : (ctx.integrations.accounts.webhookUrl(c) ?? path);
  return { accountId: c.accountId, webhookUrl: url, webhookSecret: c.hasWebhookSecret ? 'set' : 'not set' };
}

/**
 * Points the webhook URLs printed from now on where the hub serving this store answers, as
 * `connect` points its links (servers/hub-at.ts): with `serve --port 9000` and a config that says
 * 8787, a provider told 8787 would post where nothing listens. What answers there is said on stderr.
 */
async function aimWebhookUrls(ctx: StoreContext): Promise<void> {
  // Port 0 and no publicUrl: there is no one URL to look at, and the path alone is printed.
  if (ctx.publicUrl === undefined) return;
  const at = await hubAt(ctx, ctx.publicUrl);
  if (at.movedFrom !== undefined) ctx.useUrl(at.url);
  for (const note of notesOn(at, ctx, 'webhook')) progress(note);
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('webhook secret (then Enter and Ctrl-D): ');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 4096) throw new HubError('invalid_params', 'the secret on stdin is over 4096 bytes');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function connectionsCommand(argv: string[]): Promise<void> {
  const { flags, positionals } = parse(
    argv,
    {
      tenant: { type: 'string' },
      all: { type: 'boolean' },
      json: { type: 'boolean' },
      secret: { type: 'string' },
      clear: { type: 'boolean' },
    },
    {
      command: 'connections',
      usage: USAGE,
      takes: { list: 0, revoke: 1, 'webhook-secret': 1 },
      flags: { list: ['user', 'tenant', 'all', 'json'], revoke: [], 'webhook-secret': ['secret', 'clear'] },
    },
  );
  const [sub, id] = positionals;
  if (flags['help'] || sub === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (sub !== 'list' && !id) throw new HubError('invalid_params', `connections ${sub} needs a connection id\n${USAGE}`);
  // Checked (and read from stdin) before the store opens: a bad secret changes nothing.
  let secret: string | null | undefined;
  if (sub === 'webhook-secret') {
    if (flags['clear'] === true && flags['secret'] !== undefined) throw new HubError('invalid_params', 'give --secret or --clear, not both');
    if (flags['clear'] === true) secret = null;
    else {
      const r = secretSchema.safeParse(str(flags['secret']) ?? (await readStdin()));
      if (!r.success) throw new HubError('invalid_params', `webhook secret: ${r.error.issues[0]?.message ?? 'invalid'}`);
      secret = r.data;
    }
  }
  const ctx = await openStoreContext(flags, { existing: true });
  try {
    const store = ctx.integrations.accounts.connections;
    if (sub === 'list') {
      const tenant = str(flags['tenant']);
      const user = str(flags['user']);
      const list = await store.list({ ...(tenant ? { tenant } : {}), ...(user ? { user } : {}), includeRevoked: flags['all'] === true });
      if (list.some((c) => c.webhookEndpoint !== null)) await aimWebhookUrls(ctx);
      if (flags['json']) {
        process.stdout.write(
          `${JSON.stringify(
            list.map((c) => ({ ...c, ...webhookFacts(ctx, c) })),
            null,
            2,
          )}\n`,
        );
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
        const w = webhookFacts(ctx, c);
        // The values its link learned for the API base (a Jira cloud id, a Salesforce instance URL): no secrets, and where its calls go.
        const values = Object.entries(c.apiValues)
          .map(([k, v]) => `  ${k}=${v}`)
          .join('');
        const hooks = `  account=${w.accountId ?? '-'}${values}  webhook secret ${w.webhookSecret}${w.webhookUrl ? `  webhook URL ${w.webhookUrl}` : ''}`;
        listLine(`${c.id}  ${c.tenant}/${c.user}  ${c.integration}  ${c.state}  ${c.state === 'active' ? exp : (c.reason ?? '')}${hooks}`);
      }
      return;
    }
    const c = await store.get(id!);
    if (!c || c.state === 'revoked') throw new HubError('not_found', `no live connection ${id}`);
    if (sub === 'webhook-secret') {
      // Only a secret the webhook route can verify with is kept, so no URL is handed out that answers 404 or 401 forever.
      if (typeof secret === 'string') {
        const hooks = ctx.integrations.webhooks.find((w) => w.name === c.integration)?.webhooks;
        if (hooks === undefined) {
          throw new HubError(
            'invalid_params',
            `integrations.${c.integration} takes no webhooks here (the config gives it no "webhooks"), so a secret would verify nothing`,
          );
        }
        const problem = secretProblem(hooks.scheme, secret);
        if (problem !== undefined)
          throw new HubError('invalid_params', `webhook secret: ${problem} (integrations.${c.integration} is verified with ${hooks.scheme})`);
      }
      const updated = await store.setWebhookSecret(c.id, secret!);
      if (!updated) throw new HubError('not_found', `no live connection ${id}`);
      if (secret !== null) await aimWebhookUrls(ctx);
      const { webhookUrl } = webhookFacts(ctx, updated);
      process.stdout.write(secret === null ? `webhook secret of ${id} removed\n` : `webhook secret of ${id} set; point the provider at ${webhookUrl}\n`);
      return;
    }
    const r = await ctx.integrations.accounts.revoke(c);
    process.stdout.write(`revoked ${id}${r.providerRevoked ? ' (the provider confirmed)' : ''}\n`);
    if (r.warning) process.stderr.write(`warning: ${printable(r.warning)}\n`);
  } finally {
    ctx.close();
  }
}
