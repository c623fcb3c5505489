import { systemClock } from '../src/clock.js';
import { urlAwaitsListen } from '../src/config/public-url.js';
import type { Hub } from '../src/hub.js';
import { probeHub, type ProbeResult } from '../src/oauth/hub-probe.js';
import { notePortHolder } from '../src/oauth/port-holder.js';
import { replicaRegistryOf } from './replica-registry.js';
import type { StoreContext } from './store-context.js';

export interface HubAt {
  /** Where the links a command prints should point. */
  url: string;
  /** What answers there. */
  probe: ProbeResult;
  /** Set when nothing answered at the configured URL and a hub serving this store was found elsewhere. */
  movedFrom?: string;
}

/**
 * Where the hub serving this store answers, for a command that prints a link to it. The
 * configured URL when anything answers there, or when the config pins `server.publicUrl` (a proxy
 * in front knows better than the registry). Else a live replica of this store that answers with
 * this store's keys: `switchboard serve --port 9000` with a config that says 8787 — the link then
 * goes where it can be opened, instead of to a port where nothing listens.
 */
export async function hubAt(ctx: Pick<StoreContext, 'config' | 'store' | 'integrations'>, configured: string): Promise<HubAt> {
  const keyId = ctx.integrations.links.keyId();
  const probe = await probeHub(configured, keyId);
  if (probe.kind !== 'nothing' || ctx.config.server.publicUrl !== undefined) return { url: configured, probe };
  const registry = await replicaRegistryOf(ctx.store, systemClock);
  for (const url of (await registry?.live()) ?? []) {
    if (url === configured) continue;
    if ((await probeHub(url, keyId)).kind === 'same-keys') return { url, probe: { kind: 'same-keys' }, movedFrom: configured };
  }
  return { url: configured, probe };
}

/**
 * What a command that prints a link says of where the link points (`connect`, `users invite`),
 * a line each: moved to the hub found elsewhere, nothing or something else answering there, or
 * a hub on another data dir (then also marked on the links, whose notice names both data dirs).
 * With `about: 'webhook'` (`connections`) the same of the webhook URLs it prints: a provider posts
 * to them, and a hub on another data dir knows none of this one's endpoints.
 */
export function notesOn(at: HubAt, ctx: StoreContext, about: 'link' | 'webhook' = 'link'): string[] {
  const { url, probe, movedFrom } = at;
  const what = about === 'link' ? 'the link' : 'the webhook URL';
  const notes: string[] = [];
  if (movedFrom !== undefined)
    notes.push(
      `Note: nothing answers at ${movedFrom}, which the config (or its default) names; the hub serving this data dir answers at ${url}, so ${what} points there.`,
    );
  if (probe.kind === 'nothing')
    notes.push(
      `Note: nothing answers at ${url} yet; start \`switchboard serve\` so ${about === 'link' ? 'the link can be opened' : "the provider's deliveries are received"}.`,
    );
  if (probe.kind === 'not-a-hub') notes.push(`Note: something other than a Switchboard hub answers at ${url}; ${what} will not work there.`);
  if (probe.kind === 'other-keys') {
    if (about === 'webhook')
      notes.push(
        `Warning: the hub at ${url} runs on another data dir (${probe.dataDir ?? 'not disclosed'}) than this one (${ctx.config.dataDir}), so ${what} will not work there. Stop one of them, or start both with the same --data or dataDir.`,
      );
    else {
      ctx.integrations.links.foreign = { url, dataDir: probe.dataDir, ownDataDir: ctx.config.dataDir };
      notes.push(ctx.integrations.links.notice()!);
    }
  }
  return notes;
}

/**
 * A `stdio --no-http` hub serves no link pages: its links go to the hub serving its data dir,
 * where the config says or, when nothing answers there, wherever a live `serve` of this store
 * answers (hubAt). What answers at the configured URL and would not take the links is said in the
 * log and next to each link (notePortHolder).
 */
export async function aimLinks(hub: Hub): Promise<void> {
  if (hub.dataDir === ':memory:' || !hub.takesInbound || urlAwaitsListen(hub.config.server)) return;
  const configured = hub.publicUrl;
  const at = await hubAt(hub, configured);
  if (at.movedFrom !== undefined) {
    hub.pointLinksAt(at.url);
    hub.log.info({ url: at.url, configured }, 'account links point at the hub serving this data dir');
  } else if (at.probe.kind === 'nothing') {
    hub.log.warn({ url: configured }, 'nothing answers at the URL account links point at: they open once `switchboard serve` runs on this data dir');
  } else await notePortHolder(hub.integrations.links, configured, hub.dataDir, hub.log, at.probe);
}
