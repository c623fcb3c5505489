/**
 * The sandbox agents' failure injection by header refuses a knob it does not know, as it refuses one
 * in the agent id (README, Sandbox agents: "An unknown knob or a value out of range is a 400 naming
 * it"): a misspelt header (`x-sandbox-latency` for `x-sandbox-latency-ms`) answered the task at
 * once, so an entry meant to test a slow agent tested a healthy one. On each of the three
 * marketplaces, over real HTTP on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Harness } from './harness.js';

const V1 = { authorization: 'Bearer ua_sandbox_local', 'content-type': 'application/json' };
const KORE = { authorization: 'Bearer kore_sandbox_local', 'content-type': 'application/json' };
const HTTP = { 'x-api-key': 'http_sandbox_local', 'content-type': 'application/json' };
const TASK = JSON.stringify({ mode: 'sync', input: { input: 'x' }, session_id: 's' });
const KORE_BODY = JSON.stringify({ sessionIdentity: [{ type: 'sessionReference', value: 's' }], input: [{ type: 'text', content: 'x' }] });
const FORECAST = JSON.stringify({ question: 'rain?' });

async function post(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: unknown }> {
  const r = await fetch(url, { method: 'POST', headers, body });
  return { status: r.status, body: await r.json() };
}

describe('sandbox failure injection: an unknown header knob', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startSandbox();
  });
  afterAll(async () => {
    await h.close();
  });

  it('is a 400 naming it on every marketplace', async () => {
    const typo = { 'x-sandbox-latency': '5000' };
    expect(await post(`${h.issuer}/marketplace/v1/agents/echo_v1/tasks`, { ...V1, ...typo }, TASK)).toEqual({
      status: 400,
      body: { error: { type: 'invalid_input', message: 'unknown failure injection header x-sandbox-latency' } },
    });
    expect(await post(`${h.issuer}/marketplace/kore/agents/memory_v1`, { ...KORE, ...typo }, KORE_BODY)).toEqual({
      status: 400,
      body: { error: { message: 'unknown failure injection header x-sandbox-latency' } },
    });
    expect(await post(`${h.issuer}/marketplace/http/v1/forecast/Oslo`, { ...HTTP, ...typo }, FORECAST)).toEqual({
      status: 400,
      body: { error: 'unknown failure injection header x-sandbox-latency' },
    });
  });

  it('still takes the knobs it knows, by header', async () => {
    const r = await post(`${h.issuer}/marketplace/v1/agents/echo_v1/tasks`, { ...V1, 'x-sandbox-fail': '503' }, TASK);
    expect(r.status).toBe(503);
    const ok = await post(`${h.issuer}/marketplace/v1/agents/echo_v1/tasks`, { ...V1, 'x-sandbox-latency-ms': '1' }, TASK);
    expect(ok).toMatchObject({ status: 200, body: { status: 'completed' } });
  });
});
