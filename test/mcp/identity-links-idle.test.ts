import { describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { localIdentity } from '../../src/identity/identity.js';
import { IdentityLinks } from '../../src/mcp/downstream/identity-links.js';
import type { DownstreamSource } from '../../src/mcp/downstream/source.js';
import { silentLogger } from '../../src/observability/logger.js';

const IDLE_MS = 5 * 60_000;

/** What IdentityLinks reads of a connection: whether calls run on it, whether it is watched, its stop. */
function fakeLink() {
  const link = {
    busy: 0,
    watching: false,
    stopped: false,
    async stop() {
      link.stopped = true;
    },
  };
  return link;
}

/**
 * With `isolation: "user"` an identity's process is closed after 5 idle minutes. Idle counts from
 * the end of its last call: a call that ran longer than that (a browser automation, a long build)
 * left the process to be ended at the next sweep after it answered, with the state it kept.
 */
describe("an identity's own connection", () => {
  it('is idle from the end of its last call, not its start', async () => {
    const clock = manualClock();
    const link = fakeLink();
    const links = new IdentityLinks({
      name: 'browser',
      clock,
      log: silentLogger(),
      idleMs: IDLE_MS,
      open: () => ({ link: link as unknown as DownstreamSource, started: Promise.resolve() }),
    });
    const alice = localIdentity('alice');
    await links.use('session', alice);
    link.busy = 1;
    // A 10-minute call, swept every minute meanwhile.
    for (let m = 0; m < 10; m++) {
      clock.advance(60_000);
      links.sweep();
    }
    link.busy = 0;
    clock.advance(1000);
    links.sweep();
    expect(link.stopped).toBe(false);
    expect(links.size).toBe(1);
    clock.advance(IDLE_MS);
    links.sweep();
    expect(link.stopped).toBe(true);
    expect(links.size).toBe(0);
  });
});
