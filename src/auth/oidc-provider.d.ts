/**
 * oidc-provider ships no type declarations. This covers only what the hub's authorization server
 * (src/auth/) and the test authorization server (test/fakes/oidc.ts) use; everything read back
 * from the provider is narrowed where it is read.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface ProviderContext {
    path: string;
    method: string;
    status: number;
    body: unknown;
    req: IncomingMessage;
    res: ServerResponse;
    set(field: string, value: string): void;
    /** Set by the provider while it handles a request; `body` is the parsed form. */
    oidc?: { body?: Record<string, unknown>; route?: string };
  }

  export interface AccessTokenModel {
    accountId: string;
    clientId: string;
    grantId: string;
    scope?: string;
    /** The resource (RFC 8707) the token is bound to. */
    aud?: string | string[];
    /** Expiry, seconds since the epoch. */
    exp?: number;
    destroy(): Promise<void>;
  }

  /** The storage contract of the library: one instance per model name. */
  export interface Adapter {
    upsert(id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void>;
    find(id: string): Promise<Record<string, unknown> | undefined>;
    findByUserCode(userCode: string): Promise<Record<string, unknown> | undefined>;
    findByUid(uid: string): Promise<Record<string, unknown> | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  export interface GrantModel {
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }

  export interface InteractionDetails {
    uid: string;
    prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
    params: Record<string, unknown>;
    session?: { accountId?: string; uid?: string; amr?: string[] };
    grantId?: string;
    /** When the interaction expires (seconds since the epoch); `save` takes the seconds left. */
    exp: number;
    save(ttl: number): Promise<string>;
  }

  export interface ClientModel {
    clientId: string;
    clientName?: string;
    redirectUris: string[];
  }

  export const errors: Record<string, new (description?: string, options?: { detail?: string }) => Error>;

  /** The library's interaction policy (prompts and the checks that request them); only what the hub extends. */
  export const interactionPolicy: {
    base(): { get(name: string): { checks: { add(check: unknown): void } } | undefined };
    Check: {
      new (reason: string, description: string, check: (ctx: never) => boolean | Promise<boolean>): unknown;
      readonly REQUEST_PROMPT: true;
      readonly NO_NEED_TO_PROMPT: false;
    };
  };

  export default class Provider {
    /** The request the library is handling (its async local storage), undefined outside one. */
    static readonly ctx: unknown;
    constructor(issuer: string, configuration: Record<string, unknown>);
    proxy: boolean;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    use(middleware: (ctx: ProviderContext, next: () => Promise<void>) => Promise<void>): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: Record<string, unknown>,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
    /** Saves the interaction's result as `interactionFinished` does, and resolves where it resumes instead of redirecting there. */
    interactionResult(
      req: IncomingMessage,
      res: ServerResponse,
      result: Record<string, unknown>,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<string>;
    AccessToken: {
      new (fields: Record<string, unknown>): { save(): Promise<string> };
      find(value: string, options?: { ignoreExpiration?: boolean }): Promise<AccessTokenModel | undefined>;
    };
    Grant: {
      /** `jti`: the grant's id, when the hub chooses it (one consent per interaction). */
      new (fields: { accountId: string; clientId: string; jti?: string }): GrantModel;
      find(id: string): Promise<GrantModel | undefined>;
    };
    /** The browser's sign-in session, by its uid (the interaction's `session.uid`). */
    Session: {
      findByUid(uid: string): Promise<{ destroy(): Promise<void> } | undefined>;
      /** The session the request's cookie names (a new, unsaved one when none). */
      get(ctx: { req: IncomingMessage; res: ServerResponse }): Promise<{ accountId?: string; destroy(): Promise<void> }>;
    };
    /** Clients kept in the provider's store (not its static list): metadata upserted by client id. */
    Client: {
      find(id: string): Promise<ClientModel | undefined>;
      adapter: { upsert(id: string, payload: Record<string, unknown>): Promise<void> };
    };
  }
}
