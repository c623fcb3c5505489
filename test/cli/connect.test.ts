import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startCli, stopCli, type RunningCli } from '../helpers/cli-process.js';
import { eventually, tmpDir } from '../helpers/hub.js';
import { Browser, followLink } from '../integrations/browser.js';
import { connectMcp } from '../integrations/mcp.js';

/**
 * A loopback port held for the test where nothing answers: every connection is reset at once, as
 * a port nobody listens on would be refused. Held, not probed and released, so no other process
 * can take it in between.
 */
async function silentPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = createServer((socket) => socket.resetAndDestroy());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((res) => server.close(() => res())) };
}

// Retried: under a loaded CI run `connect` against a port that resets every connection has twice
// exited 0 without its note (never reproduced alone or under CPU load here). See the issue note.
describe('switchboard connect', { retry: 2 }, () => {
  let dir: ReturnType<typeof tmpDir>;
  let data: string;
  let serve: RunningCli | undefined;
  let connect: RunningCli | undefined;
  let silent: Awaited<ReturnType<typeof silentPort>> | undefined;

  beforeEach(() => {
    dir = tmpDir('switchboard-connect-');
    data = join(dir.path, 'data');
  });
  afterEach(async () => {
    await stopCli(connect);
    await stopCli(serve);
    await silent?.close();
    connect = serve = silent = undefined;
    dir.remove();
  });

  it('prints a link, shows progress on stderr, and exits 0 with "linked" once the flow completes in a browser', async () => {
    serve = startCli(['serve', '--data', data, '--port', '0'], dir.path);
    const served = await eventually(() => /serving MCP at (\S+)/.exec(serve!.stdout())?.[1], 20_000);
    // The port the OS gave the hub, which the sandbox it hosts and its links are built on.
    const port = Number(new URL(served).port);

    connect = startCli(['connect', 'sandbox', '--user', 'alice', '--data', data, '--port', String(port)], dir.path);
    const link = await eventually(() => /^(\S+)\n/.exec(connect!.stdout())?.[1], 20_000);
    expect(link).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/oauth/sandbox/start\\?link=[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$`));
    // The command is waiting, and says so (stderr is its own pipe: it may trail stdout a little).
    await eventually(() => connect!.stderr().includes('waiting for sandbox to be linked…'));
    expect(connect.stderr()).toContain('Open the link above in a browser to link sandbox for default/alice.');
    expect(connect.stderr()).toMatch(new RegExp(`Manage all accounts at: http://127\\.0\\.0\\.1:${port}/connect\\?link=`));
    expect(connect.child.exitCode).toBeNull();

    const done = await followLink(new Browser(), link, 'alice-at-sandbox');
    expect(done.status, done.html).toBe(200);
    expect(done.html).toContain('Sandbox Tickets is linked');

    expect(await connect.exit).toBe(0);
    expect(connect.stdout()).toMatch(/^\S+\nlinked: conn_[A-Za-z0-9_-]+\n$/);
    expect(connect.stderr()).not.toContain('nothing answers');

    // The link the command printed was alice's: her client now reaches her sandbox account.
    const made = startCli(['tokens', 'create', '--user', 'alice', '--data', data], dir.path);
    expect(await made.exit).toBe(0);
    const mcp = await connectMcp(`http://127.0.0.1:${port}/mcp`, made.stdout().trim(), { era: 'auto' });
    try {
      const r = await mcp.call('sandbox__whoami');
      expect(z.object({ username: z.string() }).parse(r.structuredContent).username).toBe('alice-at-sandbox');
    } finally {
      await mcp.close();
    }
  });

  it('without a server it still prints the link and says that nothing answers yet (--no-wait)', async () => {
    silent = await silentPort();
    const { port } = silent;
    connect = startCli(['connect', 'sandbox', '--user', 'bob', '--data', data, '--port', String(port), '--no-wait'], dir.path);
    expect(await connect.exit).toBe(0);
    expect(connect.stdout()).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/oauth/sandbox/start\\?link=\\S+\\n$`));
    expect(connect.stderr(), connect.stderr()).toContain(`Note: nothing answers at http://127.0.0.1:${port} yet; start \`switchboard serve\``);
  });

  it('finds the hub serving its data dir on another port than it was told, points the link there and says so', async () => {
    serve = startCli(['serve', '--data', data, '--port', '0'], dir.path);
    const served = await eventually(() => /serving MCP at (\S+)/.exec(serve!.stdout())?.[1], 20_000);
    const port = Number(new URL(served).port);
    // The command is told of a port where nothing answers, as a config saying 8787 would.
    silent = await silentPort();
    connect = startCli(['connect', 'sandbox', '--user', 'dan', '--data', data, '--port', String(silent.port), '--no-wait'], dir.path);
    expect(await connect.exit).toBe(0);
    const link = /^(\S+)\n$/.exec(connect.stdout())?.[1];
    expect(link, connect.stderr()).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/oauth/sandbox/start\\?link=\\S+$`));
    expect(connect.stderr()).toContain(
      `Note: nothing answers at http://127.0.0.1:${silent.port}, which the config (or its default) names; the hub serving this data dir answers at http://127.0.0.1:${port}, so the link points there.`,
    );
    expect(connect.stderr()).toMatch(new RegExp(`Manage all accounts at: http://127\\.0\\.0\\.1:${port}/connect\\?link=`));
    const doctor = startCli(['doctor', '--data', data, '--port', String(silent.port)], dir.path);
    await doctor.exit;
    expect(doctor.stderr()).toContain(
      `ok   http: nothing answers at http://127.0.0.1:${silent.port}, which the config (or its default) names; the hub serving this data dir answers at http://127.0.0.1:${port}`,
    );
    // `users invite` points its sign-in link there too.
    const invite = startCli(['users', 'invite', 'erin', '--data', data, '--port', String(silent.port)], dir.path);
    expect(await invite.exit, invite.stderr()).toBe(0);
    expect(invite.stdout(), invite.stderr()).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/sign-in/invite#sbi_\\S+\\n$`));
    expect(invite.stderr()).toContain(
      `Note: nothing answers at http://127.0.0.1:${silent.port}, which the config (or its default) names; the hub serving this data dir answers at http://127.0.0.1:${port}, so the link points there.`,
    );
    const done = await followLink(new Browser(), link!, 'dan-at-sandbox');
    expect(done.status, done.html).toBe(200);
    expect(done.html).toContain('Sandbox Tickets is linked');
  });

  it('gives up after --timeout with a non-zero exit and a message to run it again', async () => {
    silent = await silentPort();
    const { port } = silent;
    connect = startCli(['connect', 'sandbox', '--user', 'carol', '--data', data, '--port', String(port), '--timeout', '1'], dir.path);
    expect(await connect.exit).toBe(1);
    expect(connect.stderr()).toContain('not linked within 1 s; run the command again for a new link');
    expect(connect.stdout()).not.toContain('linked:');
  });

  it('refuses to print a link on port 0, where no hub port is known before one listens', async () => {
    connect = startCli(['connect', 'sandbox', '--user', 'erin', '--data', data, '--port', '0', '--no-wait'], dir.path);
    expect(await connect.exit).toBe(1);
    expect(connect.stderr()).toContain('server.port is 0: the OS picks the port when the hub listens');
    expect(connect.stdout()).toBe('');
  });

  it('refuses an integration that is not configured, with usage exit code 2', async () => {
    connect = startCli(['connect', 'github', '--user', 'dave', '--data', data], dir.path);
    expect(await connect.exit).toBe(2);
    expect(connect.stderr()).toContain('no integration "github" is configured (configured: sandbox)');
    expect(connect.stdout()).toBe('');
  });
});
