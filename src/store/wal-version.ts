import { closeSync, openSync, readSync } from 'node:fs';
import type { Db } from './db.js';

/** The wal-index header, twice (sqlite.org/walformat.html, "The WAL-Index Header"). */
const HEADER_BYTES = 48;
/** Its isInit byte: 1 once a connection has built the index. */
const IS_INIT = 12;

const closeFd = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // Closed already.
  }
});

/**
 * "Has any connection, in any process, committed to this database since?", for one `pread`.
 * In WAL mode every commit rewrites the wal-index header at the start of the -shm file (its
 * change counter, frame count and checksums; sqlite.org/walformat.html), and SQLite's own readers
 * compare it the same way to learn whether their snapshot is still current. Asking SQLite instead
 * costs a read transaction: two fcntl locks on the -shm file and a b-tree lookup, ~0.1 ms of a
 * request on a small VM.
 *
 * `read()` returns the header as a string to compare, or undefined when it cannot say (not a WAL
 * database, an in-memory one, the header being rewritten, the database closed): the caller then
 * asks SQLite. Equal strings mean no commit became visible in between, so a value read from
 * SQLite after the first string was taken is still current at the second.
 */
export class WalVersion {
  private fd: number | null | undefined;
  private readonly buf = Buffer.alloc(HEADER_BYTES * 2);

  constructor(private readonly db: Db) {}

  read(): string | undefined {
    if (!this.db.open) return this.release();
    if (this.fd === undefined) this.fd = this.openShm();
    if (this.fd === null) return undefined;
    let n: number;
    try {
      n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
    } catch {
      return this.release();
    }
    // Both copies equal and built: a header caught mid-rewrite is not a version.
    if (n < this.buf.length || this.buf[IS_INIT] !== 1 || this.buf.compare(this.buf, 0, HEADER_BYTES, HEADER_BYTES, HEADER_BYTES * 2) !== 0) return undefined;
    return this.buf.toString('latin1', 0, HEADER_BYTES);
  }

  private openShm(): number | null {
    if (this.db.memory) return null;
    try {
      if (this.db.pragma('journal_mode', { simple: true }) !== 'wal') return null;
      // Opened while this connection holds the database open, so it is the -shm SQLite maps.
      const fd = openSync(`${this.db.name}-shm`, 'r');
      closeFd.register(this, fd, this);
      return fd;
    } catch {
      return null;
    }
  }

  private release(): undefined {
    if (typeof this.fd === 'number') {
      closeFd.unregister(this);
      try {
        closeSync(this.fd);
      } catch {
        // Closed already.
      }
    }
    this.fd = null;
    return undefined;
  }
}
