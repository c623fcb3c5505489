import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../observability/logger.js';
import type { Db } from './db.js';

/** SQLite's default: a commit that finds the WAL this many pages long checkpoints it. */
const AUTO_CHECKPOINT_PAGES = 1000;
/**
 * While the thread checkpoints, the main connection still does past this many pages (32 MiB of
 * 4 KiB pages): a write load the thread cannot keep up with (its checkpoint never reaches the end
 * of a WAL that keeps growing, so the WAL is never restarted) still has a bounded WAL.
 */
const FALLBACK_PAGES = 8192;

// CommonJS, run with `eval`: a thread of its own with its own connection to the same file.
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
const run = () => {
  try {
    // PASSIVE: copies what no reader still needs and never waits for the writers.
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
};
const timer = setInterval(run, workerData.everyMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort.postMessage({ stopped: true });
});
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

/**
 * Moves WAL checkpoints off the event loop. By default the commit that finds the WAL past 1,000
 * pages checkpoints it, copying pages into the database and syncing it while every request waits:
 * under a steady load of webhook deliveries that was the whole of the acknowledgement's p99
 * (`bench:webhooks`: 10–13 ms with it, 5–8 ms without). Here a thread with its own connection
 * checkpoints every `everyMs`; the main connection does only past `fallbackPages`. Should the
 * thread fail, the main connection checkpoints as before, so the WAL never grows without bound.
 * With `delayMs` the thread starts that much later (the main connection holding to the fallback
 * meanwhile): its start is a Node environment of its own, tens of milliseconds of CPU.
 */
export function startCheckpointer(db: Db, file: string, log: Logger, everyMs = 1000, fallbackPages = FALLBACK_PAGES, delayMs = 0): Checkpointer {
  if (delayMs <= 0) return startThread(db, file, log, everyMs, fallbackPages);
  // The main connection holds to the fallback from now on, so the WAL stays bounded while no thread runs.
  db.pragma(`wal_autocheckpoint = ${Math.max(1, Math.floor(fallbackPages))}`);
  let running: Checkpointer | undefined;
  const timer = setTimeout(() => {
    running = startThread(db, file, log, everyMs, fallbackPages);
  }, delayMs);
  timer.unref();
  return {
    stop: async () => {
      clearTimeout(timer);
      if (running) await running.stop();
      else restoreAutoCheckpoint(db);
    },
  };
}

function restoreAutoCheckpoint(db: Db): void {
  db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
}

function startThread(db: Db, file: string, log: Logger, everyMs: number, fallbackPages: number): Checkpointer {
  const restore = () => restoreAutoCheckpoint(db);
  let worker: Worker;
  try {
    worker = new Worker(THREAD, { eval: true, workerData: { file, everyMs, driver: createRequire(import.meta.url).resolve('better-sqlite3') } });
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'WAL checkpoints stay on the main thread: the checkpoint thread did not start');
    restore();
    return { stop: async () => {} };
  }
  db.pragma(`wal_autocheckpoint = ${Math.max(1, Math.floor(fallbackPages))}`);
  worker.unref();
  const failed = (why: string) => {
    log.warn({ err: why }, 'the WAL checkpoint thread failed: checkpoints are back on the main thread');
    restore();
  };
  worker.on('error', (err) => failed(err.message));
  worker.on('message', (m: { error?: string }) => {
    if (m.error !== undefined) log.debug({ err: m.error }, 'a WAL checkpoint did not complete; the next one will');
  });
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        restore();
        const done = () => void worker.terminate().finally(resolve);
        const timer = setTimeout(done, 2_000);
        timer.unref();
        worker.once('message', () => {
          clearTimeout(timer);
          done();
        });
        worker.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        worker.postMessage('stop');
      }),
  };
}
