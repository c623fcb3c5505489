import { afterEach, describe, expect, it, vi } from 'vitest';
import { inChunks, Periodic } from '../../src/store/housekeeping.js';
import { capturedLogger } from '../helpers/log.js';

describe('inChunks', () => {
  it('runs steps until one touches fewer rows than a chunk, and adds them up', async () => {
    const touched = [3, 3, 1, 3];
    const calls: number[] = [];
    const total = await inChunks(3, async () => {
      const n = touched[calls.length]!;
      calls.push(n);
      return n;
    });
    expect(calls).toEqual([3, 3, 1]);
    expect(total).toBe(7);
  });

  it('stops after one step when nothing is left', async () => {
    let steps = 0;
    const total = await inChunks(100, async () => {
      steps++;
      return 0;
    });
    expect(total).toBe(0);
    expect(steps).toBe(1);
  });
});

describe('Periodic', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs at start and every period, logs a failed run and runs again, and stop waits for the run under way', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const lines: string[] = [];
    let runs = 0;
    let finish: () => void = () => {};
    const job = new Periodic(
      () => {
        runs++;
        if (runs === 1) return Promise.reject(new Error('the store is busy'));
        return new Promise<void>((resolve) => (finish = resolve));
      },
      { everyMs: 60_000, log: capturedLogger(lines), what: 'the test purge' },
    );
    job.start();
    expect(runs).toBe(1);
    // The failed run's log line is written once its rejection is handled (no timer involved).
    await new Promise((done) => setImmediate(done));
    expect(lines.join('')).toContain('the test purge failed; it runs again later');
    expect(lines.join('')).toContain('the store is busy');

    vi.advanceTimersByTime(59_999);
    expect(runs).toBe(1);
    vi.advanceTimersByTime(1);
    expect(runs).toBe(2);

    let stopped = false;
    const stopping = job.stop().then(() => (stopped = true));
    await new Promise((done) => setImmediate(done));
    expect(stopped).toBe(false);
    finish();
    await stopping;
    expect(stopped).toBe(true);
    // Stopped: no more runs, however long it waits.
    vi.advanceTimersByTime(600_000);
    expect(runs).toBe(2);
  });
});
