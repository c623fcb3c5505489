import { z } from 'zod';
import { stringifyExact } from '../../src/definition/exact-json.js';
import { HubError } from '../../src/errors.js';
import { EVENT_STATES, UNROUTABLE, envelopeOf, type Inbox, type InboxEvent, type ListFilter } from '../../src/webhooks/inbox/types.js';
import { commandLogger, configFromFlags, listLine, parse, printable, progress, str } from '../common.js';
import { flagValue, limitFlag, noteIfCut } from '../list-flags.js';
import { openConfiguredStore } from '../store-context.js';

const USAGE = `usage: switchboard webhooks list [--state ${EVENT_STATES.join('|')}] [--integration I] [--user U] [--tenant T]
                               [--unroutable] [--limit N] [--json]
       switchboard webhooks replay <event-id>`;

const stateFlag = z.enum(EVENT_STATES, { error: `use one of ${EVENT_STATES.join(', ')}` });

/** `list --json`: the event envelope plus what an operator needs to act on it; never a lease owner. */
function listed(e: InboxEvent) {
  return {
    ...envelopeOf(e),
    endpoint: e.endpoint,
    tenant: e.connection?.tenant ?? null,
    user: e.connection?.user ?? null,
    providerEventId: e.providerEventId,
    state: e.state,
    attempts: e.attempts,
    nextAttemptAt: e.nextAttemptAt,
    lastError: e.lastError,
  };
}

function line(e: InboxEvent): string {
  const who = e.connection ? `${e.connection.tenant}/${e.connection.user}` : '(unroutable)';
  const when = new Date(e.receivedAt).toISOString();
  const error = e.lastError === null ? '' : `  ${e.lastError.replace(/\s+/g, ' ')}`;
  return `${e.id}  ${e.state}  ${e.integration}  ${who}  ${e.type}  ${e.source}  ${when}  attempts=${e.attempts}${error}`;
}

export async function webhooksCommand(argv: string[]): Promise<void> {
  const { flags, positionals } = parse(
    argv,
    {
      state: { type: 'string' },
      integration: { type: 'string' },
      tenant: { type: 'string' },
      unroutable: { type: 'boolean' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    },
    {
      command: 'webhooks',
      usage: USAGE,
      takes: { list: 0, replay: 1 },
      flags: { list: ['state', 'integration', 'user', 'tenant', 'unroutable', 'limit', 'json'], replay: [] },
    },
  );
  const [sub, id] = positionals;
  if (flags['help'] || sub === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  // Flags are checked before the store opens: a typo changes nothing.
  const filter: ListFilter = {};
  const state = str(flags['state']);
  if (state !== undefined) filter.state = flagValue(stateFlag, 'state', state);
  const limit = str(flags['limit']);
  if (limit !== undefined) filter.limit = flagValue(limitFlag, 'limit', limit);
  for (const k of ['integration', 'tenant', 'user'] as const) {
    const v = str(flags[k]);
    if (v !== undefined) filter[k] = v;
  }
  if (flags['unroutable'] === true) filter.unroutable = true;
  if (sub === 'replay' && !id) throw new HubError('invalid_params', `webhooks replay needs an event id\n${USAGE}`);

  const { config } = configFromFlags(flags, { makeNothing: true });
  const store = await openConfiguredStore(config, commandLogger(), { existing: true });
  try {
    const inbox = store.openInbox();
    if (sub === 'list') {
      const events = await inbox.list(filter);
      noteIfCut(events.length, filter.limit, 'events');
      if (flags['json']) {
        // stringifyExact: a payload's integers past 2^53 are printed digit for digit, as the provider sent them.
        process.stdout.write(`${stringifyExact(events.map(listed), 2)}\n`);
        return;
      }
      if (events.length === 0) process.stdout.write('no events\n');
      for (const e of events) listLine(line(e));
      return;
    }
    await replay(inbox, id!);
  } finally {
    await store.close();
  }
}

async function replay(inbox: Inbox, id: string): Promise<void> {
  const before = await inbox.get(id);
  if (before) progress(printable(`${id}: ${before.state} after ${before.attempts} attempts${before.lastError ? ` (last error: ${before.lastError})` : ''}`));
  const r = await inbox.replay(id);
  switch (r.outcome) {
    case 'not_found':
      throw new HubError('not_found', `no event ${id} in the inbox (done events are purged after webhooks.retentionDays)`);
    case 'busy':
      throw new HubError('bad_request', `event ${id} is ${r.state}: only done, failed or dead events are replayed`);
    case 'replayed':
      // A replay runs handlers; an event no connection matched has none, so it is dead again at once.
      progress(
        before?.lastError === UNROUTABLE
          ? `${id}: pending again, but no connection matched it, so a running hub's worker marks it dead (unroutable) again; the provider's next delivery of it reaches a connection linked since for its account`
          : `${id}: pending again, attempts reset; a running hub's worker takes it within a second`,
      );
      process.stdout.write(`${id} pending\n`);
  }
}
