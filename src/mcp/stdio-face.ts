import { StdioServerTransport, serveStdio } from '@modelcontextprotocol/server/stdio';
import type { Server } from '@modelcontextprotocol/server';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { identityKey, type Identity } from '../identity/identity.js';
import type { Catalog } from './catalog.js';
import type { Dispatcher } from './dispatch.js';
import { createHubServer } from './server.js';

export interface StdioFaceOptions {
  dispatcher: Dispatcher;
  catalog: Catalog;
  identity: Identity;
  log: Logger;
  input?: Readable;
  output?: Writable;
}

export interface StdioFace {
  close(): Promise<void>;
}

/**
 * The stdio face: one connection, pinned to whichever era the client opens with. stdout carries
 * only protocol messages; the logger writes to stderr.
 */
export function serveStdioFace(opts: StdioFaceOptions): StdioFace {
  let live: Server | undefined;
  const subscriptions = new Set<string>();
  const handle = serveStdio(
    (ctx) => {
      // The SDK may build a probe instance for server/discover and discard it; the last one built is live.
      live = createHubServer(opts.dispatcher, opts.identity, ctx.era, {
        onSubscribe: (uri, on) => (on ? subscriptions.add(uri) : subscriptions.delete(uri)),
      });
      return live;
    },
    {
      transport: new StdioServerTransport(opts.input, opts.output),
      onerror: (err) => opts.log.debug({ err: err.message }, 'stdio protocol error'),
    },
  );
  const me = identityKey(opts.identity);
  const offChange = opts.catalog.onChange((change) => {
    if (!live || (change.identities && !change.identities.some((i) => identityKey(i) === me))) return;
    const send = change.kind === 'tools' ? live.sendToolListChanged() : change.kind === 'prompts' ? live.sendPromptListChanged() : live.sendResourceListChanged();
    send.catch(() => {});
  });
  const offUpdated = opts.catalog.onResourceUpdated((uri) => {
    if (live && subscriptions.has(uri)) live.sendResourceUpdated({ uri }).catch(() => {});
  });
  return {
    async close() {
      offChange();
      offUpdated();
      await handle.close();
    },
  };
}
