/**
 * A 200 MB answer in a process of its own (built client from dist/, as `npm test` builds first), so
 * its peak RSS (VmHWM, Linux) is the client's alone: the body is cut at the cap while it streams
 * and the peak stays near the cap, not near 200 MB. Before the client, the same answer took a hub
 * from 86 MB to 663 MB.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/hub.js';
import { startForeignHost, startProviderApi, type ForeignHost, type ProviderApi } from '../integrations/provider-api.js';

const MiB = 1024 * 1024;

interface Outcome {
  code: string | undefined;
  read: number;
  before: number;
  peak: number;
}

/** Runs one GET of /v1/huge through the provider client in a child and reports its peak RSS. */
function measure(apiBaseUrl: string, maxResponseBytes: number): Promise<Outcome> {
  const dist = (f: string) => JSON.stringify(join(ROOT, 'dist/src/providers', f));
  const script = `
    import { readFileSync } from 'node:fs';
    import { createProviderClient } from ${dist('client.js')};
    import { apiKeyCredentials } from ${dist('credentials.js')};
    const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
    const f = createProviderClient({ limits: { maxResponseBytes: ${maxResponseBytes} } })
      .bind({ label: 'Big', apiBaseUrl: ${JSON.stringify(apiBaseUrl)}, credentials: apiKeyCredentials({ header: 'authorization', prefix: 'Bearer ', value: 'k' }), paceKey: 'big' });
    // A small call first, so loading fetch itself is not counted.
    await (await f('/things')).text();
    const before = hwm();
    let code, read = 0;
    try { read = (await (await f('/huge')).text()).length; } catch (err) { code = err.code; }
    process.stdout.write(JSON.stringify({ code, read, before, peak: hwm() }));
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', reject);
    child.once('close', () => {
      try {
        resolve(JSON.parse(out) as Outcome);
      } catch {
        reject(new Error(`child said: ${out}`));
      }
    });
  });
}

describe.runIf(process.platform === 'linux')('a 200 MB response', () => {
  let api: ProviderApi;
  let foreign: ForeignHost;
  beforeAll(async () => {
    foreign = await startForeignHost();
    api = await startProviderApi(foreign.origin, 200 * MiB);
  });
  afterAll(async () => {
    await api.close();
    await foreign.close();
  });

  it('is cut at the 10 MiB cap with provider_response_too_large, peak RSS growing by well under 200 MB', async () => {
    const r = await measure(`${api.origin}/v1`, 10 * MiB);
    expect({ code: r.code, read: r.read }).toEqual({ code: 'provider_response_too_large', read: 0 });
    // Measured here: +61 MB with the 10 MiB cap (chunks awaiting GC), +10 MB with a 1 MiB cap, and
    // +660 MB when the cap is raised past 200 MB (the body read whole, as before the client).
    expect(r.peak - r.before).toBeLessThan(128 * MiB);
    expect(api.hugeBytesSent()).toBeLessThan(40 * MiB);
  }, 60_000);
});
