import { z } from 'zod';
import { systemClock } from '../../src/clock.js';
import { HubError } from '../../src/errors.js';
import type { ConnectionReads } from '../../src/connections/repository.js';
import { unsendable } from '../../src/integrations/connection-base.js';
import { FINAL_STATES, isRetried, JOB_STATES, type Job, type ListFilter } from '../../src/outbox/types.js';
import { commandLogger, configFromFlags, listLine, parse, progress, str } from '../common.js';
import { flagValue, limitFlag, noteIfCut } from '../list-flags.js';
import { openConfiguredStore } from '../store-context.js';

const USAGE = `usage: switchboard queue list [--state ${JOB_STATES.join('|')}] [--integration I] [--user U] [--tenant T] [--limit N] [--json]
       switchboard queue retry <job-id>
       switchboard queue purge --state ${FINAL_STATES.join('|')} [--older-than 7d]`;

const stateFlag = z.enum(JOB_STATES, { error: `use one of ${JOB_STATES.join(', ')}` });
const finalFlag = z.enum(FINAL_STATES, { error: `use one of ${FINAL_STATES.join(', ')}` });
const UNITS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const ageFlag = z
  .string()
  .regex(/^\d+[smhd]$/, 'use a number and a unit: 30m, 12h, 7d')
  .transform((v) => Number(v.slice(0, -1)) * UNITS[v.at(-1) as keyof typeof UNITS]);

/** Never the arguments or the provider's answer: they may be sealed, and they are the user's. */
function listed(j: Job) {
  const { argsHash: _h, ...rest } = j;
  return rest;
}

function line(j: Job): string {
  const error = j.lastError === null ? '' : `  ${j.lastError.replace(/\s+/g, ' ')}`;
  return `${j.id}  ${j.state}  ${j.integration}.${j.tool}  ${j.tenant}/${j.user}  attempts=${j.attempts}  ${new Date(j.createdAt).toISOString()}${error}`;
}

/**
 * A write that can never be sent (`unsendable` of connection-base.ts, the test its send makes) is not put
 * back, where a retry would fail the same way at its next send: its connection was revoked (a new
 * link is a new connection, and a queued write goes through its own), or linked to another site
 * since it was queued (one linked back to its site is retried). A job with no connection row is
 * left to its send: one sent with the integration's app key has none (`app:<identity>`). Checked
 * here, once, above either store.
 */
async function refuseUnsendable(job: Job, connections: Pick<ConnectionReads, 'get'>): Promise<void> {
  if (!isRetried(job.state)) return;
  const c = await connections.get(job.connectionId);
  if (c === undefined) return;
  const why = {
    gone: `its ${job.integration} connection was revoked since this write was queued, and a queued write goes through its own connection or nowhere, so it will not be sent. Link the account again and call the tool again.`,
    moved: `its ${job.integration} connection was linked to another site since this write was queued, and a queued write goes to its own site or nowhere, so it will not be sent. Calling the tool again makes the write on the site linked now.`,
  };
  const reason = unsendable(c, job.siteDigest);
  if (reason !== undefined) throw new HubError('bad_request', `job ${job.id} is not retried: ${why[reason]}`);
}

export async function queueCommand(argv: string[]): Promise<void> {
  const { flags, positionals } = parse(
    argv,
    {
      state: { type: 'string' },
      integration: { type: 'string' },
      tenant: { type: 'string' },
      'older-than': { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    },
    {
      command: 'queue',
      usage: USAGE,
      takes: { list: 0, retry: 1, purge: 0 },
      flags: { list: ['state', 'integration', 'user', 'tenant', 'limit', 'json'], retry: [], purge: ['state', 'older-than'] },
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
  if (sub === 'list' && state !== undefined) filter.state = flagValue(stateFlag, 'state', state);
  // --user and --tenant narrow the list to whose writes they are, as `webhooks list` does.
  for (const k of ['integration', 'user', 'tenant'] as const) {
    const v = str(flags[k]);
    if (v !== undefined) filter[k] = v;
  }
  const limit = str(flags['limit']);
  if (limit !== undefined) filter.limit = flagValue(limitFlag, 'limit', limit);
  if (sub === 'retry' && !id) throw new HubError('invalid_params', `queue retry needs a job id\n${USAGE}`);
  if (sub === 'purge' && state === undefined) throw new HubError('invalid_params', `queue purge needs --state\n${USAGE}`);
  const purgeState = sub === 'purge' ? flagValue(finalFlag, 'state', state!) : undefined;
  const age = str(flags['older-than']);
  const olderThan = age === undefined ? 7 * UNITS.d : flagValue(ageFlag, 'older-than', age);

  const { config } = configFromFlags(flags, { makeNothing: true });
  const store = await openConfiguredStore(config, commandLogger(), { existing: true });
  try {
    const { outbox } = store;
    if (sub === 'list') {
      const jobs = await outbox.list(filter);
      noteIfCut(jobs.length, filter.limit, 'jobs');
      if (flags['json']) process.stdout.write(`${JSON.stringify(jobs.map(listed), null, 2)}\n`);
      else {
        if (jobs.length === 0) process.stdout.write('no jobs\n');
        for (const j of jobs) listLine(line(j));
      }
    } else if (sub === 'purge') {
      const n = await outbox.purge(purgeState!, systemClock.now() - olderThan);
      process.stdout.write(`purged ${n} ${purgeState} jobs\n`);
    } else {
      const job = await outbox.find(id!);
      if (job !== undefined) await refuseUnsendable(job, store.connections);
      const r = await outbox.retry(id!);
      if (r.outcome === 'not_found') throw new HubError('not_found', `no job ${id} in the outbox`);
      if (r.outcome === 'busy') throw new HubError('bad_request', `job ${id} is ${r.state}: only dead, failed or sent_unconfirmed jobs are retried`);
      if (r.from === 'sent_unconfirmed') progress(`${id}: it may already have been applied once; it is sent again now`);
      process.stdout.write(`${id} queued\n`);
    }
  } finally {
    await store.close();
  }
}
