import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { PollFeed } from '../definition/poll.js';
import { parseExact } from '../definition/exact-json.js';
import { refusedBecause, type Refusal } from '../definition/refusal.js';
import { describeError, HubError } from '../errors.js';
import type { ProviderFetch } from '../providers/client.js';
import { isRateLimited, outcomeOf } from '../providers/answer-outcome.js';
import { cutText } from '../providers/cut-text.js';
import { pauseForBudget } from '../providers/rate-headers.js';
import type { EventRoute, PolledIntake } from '../webhooks/inbox/types.js';
import { deliveriesOf, readPage } from './page.js';
import type { RunOutcome } from './schedule.js';
import type { PollerRow } from './store.js';

/** A rate limit that names no wait is waited out this long (GitHub asks for at least a minute). */
const RATE_LIMITED_WAIT_MS = 60_000;

/** One (connection, feed) a poller reads. */
export interface FeedTarget {
  integration: string;
  name: string;
  feed: PollFeed;
  route: EventRoute;
}

export interface RunDeps {
  /** Bound to the connection: credentials, refresh, timeout and size cap are the provider client's. */
  fetch: ProviderFetch;
  inbox: PolledIntake;
  clock: Clock;
  owner: string;
  /** Pages per run at most, so one run does not hold its lease for long. */
  maxPages: number;
  /** The integration's `refusal`: a page refused in a 2xx (Slack's `ok: false`) is a failed poll naming the reason, not an empty page. */
  refusal?: Refusal | undefined;
}

export interface RunResult {
  outcome: RunOutcome;
  /** What the provider asked for (Retry-After, or until its rate budget resets); 0 for nothing. */
  floorMs: number;
  stored: number;
  pages: number;
  /** Consecutive pages, across runs, whose cursor did not move while items kept coming. */
  stuckPages: number;
  cursor: string | null;
  error?: string;
  /** The cursor moved under this run (its lease passed to another process): nothing of its last page was kept. */
  leaseLost?: boolean;
}

/** `path?cursorParam=cursor`, keeping a query the path already has. */
export function pageUrl(feed: PollFeed, cursor: string | null): string {
  if (cursor === null) return feed.path;
  return `${feed.path}${feed.path.includes('?') ? '&' : '?'}${encodeURIComponent(feed.cursorParam)}=${encodeURIComponent(cursor)}`;
}

/**
 * One run of a poller that holds its lease: reads pages from the stored cursor, hands each to the
 * inbox with its cursor move (one transaction), and reads on at once while the provider says there
 * is more and the cursor moves. The cursor is whatever the provider returns, never computed: an
 * inclusive one (a timestamp) re-reads the last items, and the inbox's dedupe on the provider's
 * event id absorbs that overlap, so a page boundary inside a run of equal cursor values loses
 * nothing. A page that leaves the cursor where it was while items keep coming cannot be read past
 * by asking again: it ends the run and counts towards `stalled`.
 */
export async function runPoll(t: FeedTarget, row: PollerRow, d: RunDeps): Promise<RunResult> {
  let cursor = row.cursor;
  let stored = 0;
  let pages = 0;
  let stuckPages = row.stuckPages;
  const done = (outcome: RunOutcome, floorMs: number, extra: Partial<RunResult> = {}): RunResult => ({
    outcome,
    floorMs,
    stored,
    pages,
    stuckPages,
    cursor,
    ...extra,
  });
  try {
    for (;;) {
      if (pages >= d.maxPages) return done('more', 0);
      const res = await d.fetch(pageUrl(t.feed, cursor), { headers: { accept: 'application/json' } });
      pages++;
      const pause = pauseForBudget(res.headers, d.clock);
      // "Not now" is not a failure (STYLE.md §7): the run ends and waits as long as it was told.
      if (res.status === 429 || (res.status === 503 && pause > 0)) {
        await res.body?.cancel().catch(() => {});
        // A spent window's reset in a spelling the budget does not read (X's x-rate-limit-reset) is the wait too.
        const named = res.status === 429 ? outcomeOf(res, '', d.clock.now()).retryAfterMs : undefined;
        return done('more', Math.max(pause, named ?? 0) || RATE_LIMITED_WAIT_MS);
      }
      if (!res.ok) {
        const text = await res.text().catch(() => '');
        // A 403 may be a rate limit, as the outbox and the tools read it (answer-outcome.ts): GitHub
        // answers a spent primary window with 403 and X-RateLimit-Remaining: 0, its secondary limit
        // with 403 and Retry-After (or only its words), Google with 403 rateLimitExceeded. Not now,
        // as a 429 is: counted as failures, five of them stalled a poller that only had to wait.
        const answer = res.status === 403 ? outcomeOf(res, text, d.clock.now()) : undefined;
        if (answer !== undefined && isRateLimited(answer)) return done('more', Math.max(pause, answer.retryAfterMs ?? 0) || RATE_LIMITED_WAIT_MS);
        const said = cutText(text, 200);
        return done('failed', pause, { error: `${t.feed.path} answered HTTP ${res.status}${said ? `: ${said}` : ''}` });
      }
      const body = parseExact(await res.text());
      const refused = refusedBecause(d.refusal, body);
      if (refused !== undefined) return done('failed', pause, { error: `${t.feed.path} was refused: ${cutText(refused, 200)}` });
      const page = readPage(t.name, t.feed, body);
      const next = page.next ?? cursor;
      const r = await d.inbox.acceptPolled(deliveriesOf(t.integration, t.name, t.feed, page.items, t.route), {
        integration: t.integration,
        connectionId: t.route.id,
        feed: t.name,
        from: cursor,
        to: next,
        owner: d.owner,
      });
      if (r.outcome === 'conflict') return done('more', 0, { leaseLost: true });
      const fresh = r.results.filter((x) => x.outcome === 'stored').length;
      stored += fresh;
      const moved = next !== cursor;
      // Without a has_more flag, read on until a page comes back empty (or the cursor stops).
      const more = page.hasMore ?? page.items.length > 0;
      // More is waiting behind a cursor that did not move: asking again returns this page again. New
      // items at an unmoved inclusive cursor are normal (more changes at the last timestamp), so only
      // a provider's has_more tells a stuck cursor from a caught-up one.
      const stuck = !moved && page.items.length > 0 && page.hasMore === true;
      stuckPages = stuck ? stuckPages + 1 : 0;
      cursor = next;
      const outcome: RunOutcome = stored > 0 ? 'activity' : 'empty';
      if (stuck || !more || !moved) return done(outcome, pause);
      if (pause > 0) return done('more', pause);
    }
  } catch (err) {
    const wait = pacingWaitOf(err);
    // The provider's rate limit, as it last answered, grants no request for longer than a page
    // waits: "not now", as its own 429 would be. The poller pauses until then; nothing failed.
    if (wait !== undefined) return done('more', wait);
    return done('failed', 0, { error: describeError(err) });
  }
}

/**
 * What the provider client's refusal to send under a spent rate limit says (src/providers/client.ts
 * `pacingRefusal`): the wait it knows, else how long it waited for a token in vain.
 */
const pacingRefusal = z.union([z.object({ retryAfterMs: z.number().nonnegative() }), z.object({ waitedMs: z.number().nonnegative() })]);

function pacingWaitOf(err: unknown): number | undefined {
  if (!(err instanceof HubError) || err.code !== 'source_unavailable') return undefined;
  const d = pacingRefusal.safeParse(err.details);
  if (!d.success) return undefined;
  return 'retryAfterMs' in d.data ? d.data.retryAfterMs : d.data.waitedMs;
}
