/**
 * A browser extension's MCP client sends its pages' origin, `chrome-extension://<id>` or
 * `moz-extension://<uuid>`. Listed in `server.allowedOrigins`, that origin may call the hub (CORS
 * echoes it); any other extension, or the same id under another scheme, is still refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';

const CHROME = 'chrome-extension://abcdefghijklmnopabcdefghijklmnop';
const FIREFOX = 'moz-extension://1b2c3d4e-aaaa-bbbb-cccc-123456789abc';

let hub: RunningHub;
beforeAll(async () => {
  hub = await startHub({ server: { allowedOrigins: [CHROME, FIREFOX] } });
});
afterAll(() => hub?.stop());

async function preflight(origin: string): Promise<{ status: number; allowed: string | null; body: string }> {
  const res = await fetch(hub.url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
  });
  return { status: res.status, allowed: res.headers.get('access-control-allow-origin'), body: await res.text() };
}

describe('server.allowedOrigins with browser extensions', () => {
  it('lets a listed extension call /mcp, echoing its origin', async () => {
    for (const origin of [CHROME, FIREFOX]) {
      const res = await preflight(origin);
      expect([origin, res.status, res.allowed]).toEqual([origin, 204, origin]);
    }
  });

  it('still refuses another extension, and the id under another scheme', async () => {
    for (const origin of ['chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba', 'moz-extension://abcdefghijklmnopabcdefghijklmnop']) {
      const res = await preflight(origin);
      expect([origin, res.status, res.allowed]).toEqual([origin, 403, null]);
      expect(res.body).toContain('is not allowed');
    }
  });
});
