import { HubError } from '../errors.js';

/**
 * Whether a callback sent to this hub's public URL reaches a hub of this data dir. A `stdio` hub
 * whose port another program holds (or a hub on another data dir) learns so a moment after start
 * (src/oauth/port-holder.ts, the same finding its links show): an async agent's answer sent there
 * would be lost while the platform ran, and billed, the task.
 */
export interface CallbackReach {
  /** Settles once the hub knows where it is reached: bound, or pointed at the hub serving its data dir. */
  readonly settled: Promise<void>;
  /** What answers at the public URL instead of a hub of this data dir, if anything. */
  readonly foreign: { url: string; notAHub: true } | { url: string; dataDir: string | undefined; ownDataDir: string } | undefined;
}

/** Refuses an async agent's call, before anything is sent, when its callback could not come back. */
export async function assertCallbackReaches(reach: CallbackReach | undefined, agent: string): Promise<void> {
  if (reach === undefined) return;
  await reach.settled;
  const f = reach.foreign;
  if (f === undefined) return;
  const what =
    'notAHub' in f
      ? `something other than a Switchboard hub answers there (another program holds its port). Stop that program, or give this hub another port (server.port in the config, or --port), and start it again`
      : `the hub there runs on another data dir (${f.dataDir ?? 'not disclosed'}) than this one (${f.ownDataDir}). Stop one of them, or start both with the same --data or dataDir`;
  throw new HubError(
    'agent_not_configured',
    `agent__${agent} runs async, and its answer would come back to ${f.url}, where it cannot reach this hub: ${what}. Nothing was sent to the agent.`,
    { details: { agent, callbackUrl: f.url } },
  );
}
