import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  MissingRequiredClientCapabilityError,
  ProtocolError,
  ProtocolErrorCode,
  type CallToolResult,
  type InputRequiredResult,
} from '@modelcontextprotocol/server';
import type { AskRequest } from './session-calls.js';
import { isRecord } from '../../is-record.js';
import { type Capabilities, missing, requiredFor, type Embedded } from '../client-capabilities.js';

/**
 * What the SDK does with a tool's `input_required` result before it leaves, for direct calls
 * (src/mcp/direct-call.ts), which skip the SDK's Server. The SDK keeps these steps internal; the
 * texts and limits here are its own, so a caller cannot tell which path answered.
 */

/** The SDK's legacy shim: rounds, the wait for each request's answer, and the pause before a retry with no request. */
const MAX_ROUNDS = 8;
const LEG_TIMEOUT_MS = 600_000;
const STATE_ONLY_PACING_MS = 250;

function embedded(key: string, entry: unknown): { request: Embedded; required: Record<string, Record<string, unknown>> } {
  if (!isRecord(entry) || typeof entry['method'] !== 'string') {
    throw new ProtocolError(
      ProtocolErrorCode.InternalError,
      `Handler for tools/call returned an invalid input request '${key}': each inputRequests entry must be an embedded elicitation/create, sampling/createMessage, or roots/list request`,
    );
  }
  const request: Embedded = { method: entry['method'], ...(isRecord(entry['params']) ? { params: entry['params'] } : {}) };
  const required = requiredFor(request);
  if (!required) {
    throw new ProtocolError(
      ProtocolErrorCode.InternalError,
      `Handler for tools/call returned an input request '${key}' of kind '${request.method}', which is not an embedded request the 2026-07-28 revision defines`,
    );
  }
  return { request, required };
}

function checkShape(result: InputRequiredResult): Array<[string, unknown]> {
  const requests = Object.entries(result.inputRequests ?? {});
  if (!requests.length && typeof result.requestState !== 'string') {
    throw new ProtocolError(
      ProtocolErrorCode.InternalError,
      'Handler for tools/call returned an input-required result with neither inputRequests nor requestState (every InputRequiredResult must include at least one of the two)',
    );
  }
  return requests;
}

/** 2026-07-28: the gate before the result leaves: the request's client must be able to answer every input request, else -32021. */
export function checkModernInputRequests(result: InputRequiredResult, declared: Capabilities | undefined): void {
  for (const [key, entry] of checkShape(result)) {
    const { request, required } = embedded(key, entry);
    const lacking = missing(required, declared);
    if (lacking) {
      throw new MissingRequiredClientCapabilityError(
        { requiredCapabilities: lacking },
        `Cannot request input '${key}' (${request.method}): the request's client capabilities do not declare the required capability`,
      );
    }
  }
}

export interface LegacyRounds {
  /** Calls the tool again with the client's answers and the state of the round before. */
  again(round: { inputResponses?: Record<string, unknown>; requestState?: string }): Promise<CallToolResult | InputRequiredResult>;
  /** A server→client request on the call's stream. */
  ask(req: AskRequest, opts: { signal: AbortSignal; timeoutMs?: number }): Promise<unknown>;
  declared: Capabilities | undefined;
  signal: AbortSignal;
}

/**
 * 2025 sessions: the SDK's legacy shim. Each round's input requests go to the client as
 * server→client requests on the call's stream, and the tool is called again with the answers,
 * until it completes or MAX_ROUNDS pass. What the client cannot answer, or fails to, ends the call
 * as an `isError` result, as the SDK ends it.
 */
export async function fulfilLegacy(first: InputRequiredResult, r: LegacyRounds): Promise<CallToolResult> {
  let current = first;
  for (let round = 1; ; round++) {
    if (round > MAX_ROUNDS) return failure(`Multi-round-trip request 'tools/call' still required input after ${MAX_ROUNDS} rounds (inputRequired.maxRounds)`);
    const requests = checkShape(current);
    let inputResponses: Record<string, unknown> | undefined;
    if (requests.length) {
      const legs: Array<[string, Embedded]> = [];
      for (const [key, entry] of requests) {
        const { request, required } = embedded(key, entry);
        if (request.method !== 'roots/list' && request.params === undefined) {
          throw new ProtocolError(
            ProtocolErrorCode.InternalError,
            `Handler for tools/call returned an input request '${key}' of kind '${request.method}' without params`,
          );
        }
        if (missing(required, r.declared)) {
          return failure(
            `Cannot request input '${key}' (${request.method}): the client on this 2025-era connection did not declare the required capability${r.declared === undefined ? ' (no client capabilities are available on this connection — per-request legacy serving cannot receive server-to-client requests)' : ''}`,
          );
        }
        legs.push([key, withElicitationId(request)]);
      }
      const abort = new AbortController();
      const onOuter = () => abort.abort(r.signal.reason);
      r.signal.addEventListener('abort', onOuter, { once: true });
      try {
        const answers = await Promise.all(
          legs.map(async ([key, request]) => {
            try {
              return [key, await r.ask(request, { signal: abort.signal, timeoutMs: LEG_TIMEOUT_MS })] as const;
            } catch (err) {
              abort.abort(err);
              throw err;
            }
          }),
        );
        inputResponses = Object.fromEntries(answers);
      } catch (err) {
        if (r.signal.aborted) throw err;
        return failure(`Fulfilling input required by 'tools/call' failed: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        r.signal.removeEventListener('abort', onOuter);
      }
    } else {
      await sleep(STATE_ONLY_PACING_MS, undefined, { signal: r.signal });
    }
    const next = await r.again({
      ...(inputResponses ? { inputResponses } : {}),
      ...(typeof current.requestState === 'string' ? { requestState: current.requestState } : {}),
    });
    if (!isInputRequired(next)) return next;
    current = next;
  }
}

export function isInputRequired(v: CallToolResult | InputRequiredResult): v is InputRequiredResult {
  return (v as { resultType?: unknown }).resultType === 'input_required';
}

/** The 2025 URL elicitation carries an id the 2026 in-band one has not. */
function withElicitationId(request: Embedded): Embedded {
  const p = request.params;
  if (request.method !== 'elicitation/create' || p?.['mode'] !== 'url' || p['elicitationId'] !== undefined) return request;
  return { ...request, params: { ...p, elicitationId: randomUUID() } };
}

function failure(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}
