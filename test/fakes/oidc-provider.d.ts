/**
 * oidc-provider ships no type declarations. This covers only what the test authorization server
 * uses; everything it reads back from the provider is narrowed where it is read.
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
    /** Set by the provider while it handles a request; `body` is the parsed form. */
    oidc?: { body?: Record<string, unknown> };
  }

  export interface AccessTokenModel {
    accountId: string;
    clientId: string;
    grantId: string;
    scope?: string;
    destroy(): Promise<void>;
  }

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    use(middleware: (ctx: ProviderContext, next: () => Promise<void>) => Promise<void>): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
    AccessToken: { find(value: string): Promise<AccessTokenModel | undefined> };
    Grant: { find(id: string): Promise<object | undefined> };
    /** Clients kept in the provider's store (not its static list): metadata upserted by client id. */
    Client: { adapter: { upsert(id: string, payload: Record<string, unknown>): Promise<void> } };
  }
}
