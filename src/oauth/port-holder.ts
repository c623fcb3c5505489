import type { Logger } from 'pino';
import { type ProbeResult, probeHub } from './hub-probe.js';
import type { LinkSigner } from './links.js';

/**
 * The port a hub could not bind is held by something else (typically a `serve` while this is a
 * `stdio` hub), and the links this hub hands out point there. A hub that signs with another key
 * (another data dir) will reject them, and a program that is no hub at all (another dev server on
 * the same port) will not open them: say so in the log and next to every link, rather than let
 * the user find out in the browser. A hub with this hub's keys serves them: nothing to say.
 */
export async function notePortHolder(links: LinkSigner, url: string, ownDataDir: string, log: Logger, known?: ProbeResult): Promise<void> {
  // A caller that has just asked (servers/hub-at.ts) hands its answer in rather than ask again.
  const probe = known ?? (await probeHub(url, links.keyId()));
  if (probe.kind === 'other-keys') links.foreign = { url, dataDir: probe.dataDir, ownDataDir };
  else if (probe.kind === 'not-a-hub') links.foreign = { url, notAHub: true };
  else return;
  log.warn({ url, ...(probe.kind === 'other-keys' ? { theirDataDir: probe.dataDir, ourDataDir: ownDataDir } : {}) }, links.notice());
}
