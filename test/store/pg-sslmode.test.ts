/**
 * `sslmode` in `store.url` means what libpq (psql) makes of it (README "PostgreSQL"): `require`
 * encrypts without verifying the server's certificate, `verify-full` verifies it, `allow` starts
 * in plain text; node-postgres's own `no-verify` is libpq's `require`, and a mode libpq does not
 * have is refused rather than read as verify-full. The server is a local one speaking
 * PostgreSQL's wire protocol as far as TLS (SSLRequest, then the handshake with a self-signed
 * certificate) and refusing the startup that follows with an error of its own: that error
 * reaching the client proves the encrypted connection was made (a plain startup gets another).
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { openPgStore, type PgStore } from '../../src/store/pg/pool.js';
import { TLS_CERT, TLS_KEY } from '../auth/tls.js';

const SSL_REQUEST = 80877103;
const REFUSAL = 'test server: encrypted startup received';
const PLAIN = 'test server: plain startup received';

/** A backend ErrorResponse (protocol 55.7): severity, SQLSTATE, message. */
function errorResponse(message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0C28000\0M${message}\0\0`);
  const head = Buffer.alloc(5);
  head.write('E');
  head.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}

let server: net.Server;
let port = 0;
let handshakes = 0;
const warnings: string[] = [];
const onWarning = (w: Error) => warnings.push(w.message);
const stores: PgStore[] = [];

beforeAll(async () => {
  process.on('warning', onWarning);
  server = net.createServer((socket) => {
    socket.once('data', (first) => {
      // A plain startup (no SSLRequest first) is refused with an error of its own.
      if (first.length !== 8 || first.readInt32BE(4) !== SSL_REQUEST) return void socket.end(errorResponse(PLAIN));
      socket.write('S');
      const secure = new tls.TLSSocket(socket, { isServer: true, cert: TLS_CERT, key: TLS_KEY });
      secure.on('error', () => socket.destroy());
      secure.once('secure', () => handshakes++);
      secure.once('data', () => secure.end(errorResponse(REFUSAL)));
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  process.off('warning', onWarning);
  await new Promise((resolve) => server.close(resolve));
});

async function firstQueryError(query: string): Promise<string> {
  const store = openPgStore({ url: `postgres://sb:pw@127.0.0.1:${port}/sb?${query}` });
  stores.push(store);
  return store.query('SELECT 1').then(
    () => 'no error',
    (err: unknown) => (err instanceof Error ? err.message : String(err)),
  );
}

it('sslmode=require encrypts without verifying the self-signed certificate, as libpq does, and prints no warning', async () => {
  const before = handshakes;
  expect(await firstQueryError('sslmode=require')).toBe(`a database query failed: ${REFUSAL}`);
  expect(handshakes).toBe(before + 1);
  expect(warnings.filter((w) => w.includes('SECURITY WARNING'))).toEqual([]);
});

it('sslmode=verify-full still refuses a certificate no trusted CA signed', async () => {
  expect(await firstQueryError('sslmode=verify-full')).toBe('a database query failed: self-signed certificate');
});

it('a URL that names uselibpqcompat itself keeps its choice (false: require is verify-full, as node-postgres 8 reads it)', async () => {
  expect(await firstQueryError('sslmode=require&uselibpqcompat=false')).toBe('a database query failed: self-signed certificate');
});

function openError(query: string): string {
  try {
    stores.push(openPgStore({ url: `postgres://sb:secret-pw@127.0.0.1:${port}/sb?${query}` }));
    return 'no error';
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

it("sslmode=no-verify encrypts without verifying the self-signed certificate, as node-postgres's no-verify does", async () => {
  const before = handshakes;
  expect(await firstQueryError('sslmode=no-verify')).toBe(`a database query failed: ${REFUSAL}`);
  expect(handshakes).toBe(before + 1);
});

it('sslmode=allow starts in plain text, as libpq tries first, instead of demanding a verified certificate', async () => {
  const before = handshakes;
  expect(await firstQueryError('sslmode=allow')).toBe(`a database query failed: ${PLAIN}`);
  expect(handshakes).toBe(before);
});

it('an sslmode libpq does not know is refused, naming it and the modes there are, never the password', () => {
  const message = openError('sslmode=verify_full');
  expect(message).toBe("the database URL's sslmode=verify_full is not one of libpq's: disable, allow, prefer, require, verify-ca, verify-full");
  expect(message).not.toContain('secret-pw');
});
