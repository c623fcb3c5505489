import { describe, expect, it } from 'vitest';
import { HeldCall, HeldCalls, ownerOf, PROCESS_ID } from '../../src/mcp/downstream/held-calls.js';
import { RequestStates, type StateTarget } from '../../src/mcp/request-state.js';

const KEY = 'k'.repeat(32);
const target: StateTarget = { identity: { tenant: 'default', user: 'alice', scopes: ['mcp'] }, method: 'tools/call', name: 'v1h__transfer' };

/** The wire state a held call's round hands the client: the source's state sealed by the hub. */
async function wire(states: RequestStates, inner: string): Promise<string> {
  const sealed = await states.seal({ resultType: 'input_required', inputRequests: {}, requestState: inner }, target);
  return String(sealed.requestState);
}

describe('reading who holds a retry, without consuming it', () => {
  it('names this process for a held call, as often as asked, and the call stays held', async () => {
    const states = new RequestStates({ key: KEY });
    const held = new HeldCalls();
    const call = new HeldCall(new Promise(() => {}));
    const state = await wire(states, held.hold(call));
    expect(await ownerOf(states, state)).toBe(PROCESS_ID);
    expect(await ownerOf(states, state)).toBe(PROCESS_ID);
    expect(held.take(call.id)).toBe(call);
  });

  it('names nobody for a state that is not a held call, is signed with another key, tampered with or expired', async () => {
    const states = new RequestStates({ key: KEY });
    expect(await ownerOf(states, await wire(states, 'a downstream state'))).toBeUndefined();
    const held = `held:${JSON.stringify({ p: 'host-b/1/x', id: 'c1' })}`;
    expect(await ownerOf(states, await wire(states, held))).toBe('host-b/1/x');
    expect(await ownerOf(states, await wire(new RequestStates({ key: 'o'.repeat(32) }), held))).toBeUndefined();
    const good = await wire(states, held);
    const [prefix, body, mac] = [good.slice(0, 3), good.slice(3, good.lastIndexOf('.')), good.slice(good.lastIndexOf('.') + 1)];
    const forged = Buffer.from(Buffer.from(body, 'base64url').toString('utf8').replace('host-b', 'host-c')).toString('base64url');
    expect(await ownerOf(states, `${prefix}${forged}.${mac}`)).toBeUndefined();
    expect(await ownerOf(states, await wire(new RequestStates({ key: KEY, ttlSeconds: -1 }), held))).toBeUndefined();
    expect(await ownerOf(states, 'garbage')).toBeUndefined();
  });
});
