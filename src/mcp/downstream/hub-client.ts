import type { Client } from '@modelcontextprotocol/client';
import { isStdioServer } from '../../config/schema.js';
import { SERVER_INFO } from '../server.js';
import type { ListChanges } from './list-changes.js';
import { loadClientSdk } from './sdk.js';
import type { DownstreamOptions } from './source-options.js';

/**
 * Whether a connection declares `roots` to its server, which then asks the calling client's roots
 * (roots/list) during a call. Not a stdio process all users share: servers keep the first answer
 * for the session (server-everything caches it), which would hand one user's roots to the next. A
 * connection of one identity (a session or process of its own), or one only listed on, may: an ask
 * outside any call is refused, as a sampling request is.
 */
export function declaresRoots(opts: Pick<DownstreamOptions, 'role' | 'config'>): boolean {
  return opts.role === 'session' || !(isStdioServer(opts.config) && opts.config.isolation === 'shared');
}

/**
 * Pages the hub reads of one list before it gives up on the server's pagination. The SDK's default
 * (64) refused servers that page small and hold many items (150 resources, one per page: "did not
 * terminate") and with them their tools. A cursor that never ends is still cut, here: each page
 * has its own timeout, so only a cap ends a server that answers every page at once.
 */
const LIST_MAX_PAGES = 1_000;

/** The hub's MCP client of one downstream connection: it answers for its callers what they can answer. */
export async function hubClient(roots: boolean, changes: ListChanges): Promise<Client> {
  // The client half of the SDK loads with the first downstream server, not with every hub.
  const sdk = await loadClientSdk();
  return new sdk.Client(
    { name: SERVER_INFO.name, version: SERVER_INFO.version },
    {
      // Everything a caller may answer, sampling with tools included (a 2025 server's SDK refuses to
      // send a tool-using createMessage to a client that lacks it); a call whose caller did not
      // declare it is refused per call (calls.ts), as an URL elicitation is.
      capabilities: { sampling: { tools: {} }, elicitation: { form: {}, url: {} }, ...(roots ? { roots: { listChanged: true } } : {}) },
      // A 2025-era stdio server that never answers the probe is legacy: fall back after 5 s, not
      // after the whole connect timeout.
      versionNegotiation: { mode: 'auto', probe: { timeoutMs: 5_000 } },
      listChanged: changes.options(),
      listMaxPages: LIST_MAX_PAGES,
    },
  );
}
