import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hubLegs, readTimeline, type TimelineEvent } from '../../bench/timeline.js';

const PRELOAD = resolve(import.meta.dirname, '../../dist/bench/hub-timeline.js');

describe('hubLegs', () => {
  it('times each leg from adjacent instants only, inside the windows', () => {
    const events: TimelineEvent[] = [
      ['in', 1], // before the window: left out
      ['out', 2],
      ['in', 10],
      ['out', 10.5],
      ['in', 11], // two requests before either went out: the first way out may be either's, so none is counted
      ['in', 11.2],
      ['out', 12],
      ['out', 12.4],
      ['back', 60],
      ['done', 60.25],
      ['back', 61],
      ['done', 61.75],
      ['in', 200], // after the window
      ['out', 201],
    ];
    const legs = hubLegs(events, [[5, 100]]);
    expect(legs.there).toEqual({ n: 1, p50: 0.5, p90: 0.5 });
    expect(legs.back.n).toBe(2);
    expect(legs.back.p50).toBe(0.25);
    expect(legs.back.p90).toBe(0.75);
  });

  it('gives no figure for a window without a leg', () => {
    const legs = hubLegs([['in', 1]], [[0, 10]]);
    expect(legs.there.n).toBe(0);
    expect(legs.there.p50).toBeNaN();
  });
});

describe('the hub-timeline preload', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('notes a proxied request’s four instants in order from Node’s http channels and writes them at exit', () => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-timeline-'));
    const file = join(dir, 'timeline.json');
    // A server that, like the hub, makes a request of its own before it answers.
    const script = `
      import http from 'node:http';
      const upstream = http.createServer((q, r) => r.end('{}')).listen(0, '127.0.0.1');
      await new Promise((r) => upstream.once('listening', r));
      const front = http.createServer((q, r) => {
        q.resume();
        q.on('end', () => http.get({ host: '127.0.0.1', port: upstream.address().port }, (a) => { a.resume(); a.on('end', () => r.end('ok')); }));
      }).listen(0, '127.0.0.1');
      await new Promise((r) => front.once('listening', r));
      const res = await fetch('http://127.0.0.1:' + front.address().port + '/');
      await res.text();
      front.close(); upstream.close();
    `;
    const run = spawnSync(process.execPath, ['--import', PRELOAD, '--input-type=module', '-e', script], {
      env: { ...process.env, SWITCHBOARD_BENCH_TIMELINE_FILE: file },
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const events = readTimeline(file);
    // The fetch goes through undici, not node:http's client, so it is not seen; the upstream runs in
    // the same process, so its request in and answer written sit inside the front's two legs.
    expect(events.map(([kind]) => kind)).toEqual(['in', 'out', 'in', 'done', 'back', 'done']);
    const times = events.map(([, t]) => t);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(Math.abs(times[0]! - Date.now())).toBeLessThan(60_000);
    // The front's way there and back, one each; the upstream's instants pair with nothing.
    const legs = hubLegs(events, [[times[0]!, times.at(-1)!]]);
    expect([legs.there.n, legs.back.n]).toEqual([1, 1]);
  });
});
