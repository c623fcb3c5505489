import { randomBytes } from 'node:crypto';
import {
  createRequestStateCodec,
  ProtocolError,
  ProtocolErrorCode,
  type InputRequiredResult,
  type RequestStateCodec,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { identityKey, type Identity } from '../identity/identity.js';

/** The request a multi-round-trip state belongs to: who called what. */
export interface StateTarget {
  identity: Identity;
  method: 'tools/call' | 'prompts/get' | 'resources/read';
  /** The tool or prompt name the client used, or the resource URI. */
  name: string;
}

/** What travels inside the signed wire string: the source's own state and the request it is for. */
interface Sealed {
  v?: string;
  for: string;
}

/** The hub secret that signs request states: one per data dir, so a retry may reach any process on it. */
export const REQUEST_STATE_KEY = 'request_state_key';

export interface RequestStatesOptions {
  /**
   * HMAC key, ≥ 32 bytes. Every process that may receive a retry needs the same key; the
   * default (random per process) suits a hub that serves each flow from one process. A function
   * is called once, when the first state is sealed or verified: the hub hands in its key that way
   * because it loads its keys from the store at start, after this object is built (HubKeys).
   */
  key?: Uint8Array | string | (() => Uint8Array);
  /** How long a client may take to answer before the state expires. */
  ttlSeconds?: number;
}

/**
 * Signs the `requestState` of input_required results. The state round-trips through the client,
 * so per the 2026-07-28 multi-round-trip pattern ("basic/patterns/mrtr", server requirements 4–5)
 * the server must protect its integrity and reject state that fails verification. Binding it to
 * the identity and the request also stops a state minted for one caller or tool being replayed
 * against another. The payload is signed, not encrypted: sources must not put secrets in it.
 */
export class RequestStates {
  private codecValue: RequestStateCodec<Sealed> | undefined;

  constructor(private readonly opts: RequestStatesOptions = {}) {
    if (typeof opts.key !== 'function') this.codecValue = this.makeCodec(opts.key ?? randomBytes(32));
  }

  /** Built once; after that a request reads a field, no store and no await. */
  private get codec(): RequestStateCodec<Sealed> {
    const key = this.opts.key;
    this.codecValue ??= this.makeCodec(typeof key === 'function' ? key() : (key ?? randomBytes(32)));
    return this.codecValue;
  }

  private makeCodec(key: Uint8Array | string): RequestStateCodec<Sealed> {
    return createRequestStateCodec<Sealed>({ key, ttlSeconds: this.opts.ttlSeconds ?? 600 });
  }

  /**
   * For `ServerOptions.requestState.verify`: checks MAC and expiry before any handler runs; the
   * SDK answers a failure with -32602 "Invalid or expired requestState".
   */
  readonly verify = (state: string, ctx: ServerContext): Promise<Sealed> => this.codec.verify(state, ctx);

  /**
   * The source's state inside a wire `requestState` whose MAC and expiry check out, read without
   * a request context and without consuming anything: undefined for any state that fails. For
   * routing only (which process holds it); the binding to identity and request is checked where
   * the retry is served, by `open`.
   */
  async peek(state: string): Promise<string | undefined> {
    // The codec reads a context only for a `bind` option, which these codecs do not use; method
    // parameters are bivariant, so the codec is one of these as it is, without a cast.
    const unbound: { verify(state: string, ctx?: ServerContext): Promise<Sealed> } = this.codec;
    try {
      const sealed: unknown = await unbound.verify(state);
      return isSealed(sealed) ? sealed.v : undefined;
    } catch {
      return undefined;
    }
  }

  /** Replaces a source's plain `requestState` with the signed, bound wire form. */
  async seal(result: InputRequiredResult, target: StateTarget): Promise<InputRequiredResult> {
    if (result.requestState === undefined) return result;
    return { ...result, requestState: await this.codec.mint({ v: result.requestState, for: bindingOf(target) }) };
  }

  /** The source's state from a verified retry, or undefined on a first round. */
  open(ctx: ServerContext, target: StateTarget): string | undefined {
    const sealed = ctx.mcpReq.requestState<unknown>();
    if (sealed === undefined) return undefined;
    if (!isSealed(sealed) || sealed.for !== bindingOf(target)) {
      // The same answer the SDK gives for a bad MAC, so a probe learns nothing about the binding.
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'Invalid or expired requestState', { reason: 'invalid_request_state' });
    }
    return sealed.v;
  }
}

function bindingOf(t: StateTarget): string {
  return `${identityKey(t.identity)}\0${t.method}\0${t.name}`;
}

function isSealed(v: unknown): v is Sealed {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o['for'] === 'string' && (o['v'] === undefined || typeof o['v'] === 'string');
}
