import Provider, { type Adapter, errors } from 'oidc-provider';

/** The request the library is handling, which it keeps in async local storage (`Provider.ctx`). */
function currentRequest(): unknown {
  return Provider.ctx;
}

/** The parsed parameters of a code exchange at /token, in place (the library reads them after). */
function exchangeParams(ctx: unknown): Record<string, unknown> | undefined {
  if (typeof ctx !== 'object' || ctx === null) return undefined;
  const oidc = (ctx as { oidc?: { route?: unknown; params?: unknown } }).oidc;
  const params = oidc?.route === 'token' ? oidc.params : undefined;
  if (typeof params !== 'object' || params === null) return undefined;
  const exchange = params as Record<string, unknown>;
  return exchange['grant_type'] === 'authorization_code' ? exchange : undefined;
}

/**
 * The code exchange's `resource` (RFC 8707 §2.2), checked when the library looks the code up: the
 * one step of the exchange after the request is parsed and before the code is spent. The library
 * checks it only after spending the code, so an exchange naming another resource was refused and
 * the client's retry, now with a spent code, ended the grant as a reuse (as rotateRefreshToken in
 * provider.ts prevents for a refresh). A resource the hub does not serve is refused here, the code
 * left unspent; another loopback name of the granted resource (a client that signed in at
 * 127.0.0.1 and exchanges the code as localhost) is the same resource: the exchange is served for
 * the granted name, whose tokens /mcp takes under every loopback name.
 */
export function checkingCodeResource(Base: new (model: string) => Adapter, resource: string, resources: readonly string[]): new (model: string) => Adapter {
  return class CodeResourceAdapter extends Base {
    readonly #model: string;

    constructor(model: string) {
      super(model);
      this.#model = model;
    }

    override async find(id: string): Promise<Record<string, unknown> | undefined> {
      const found = await super.find(id);
      if (this.#model !== 'AuthorizationCode' || found === undefined) return found;
      const params = exchangeParams(currentRequest());
      const asked = params?.['resource'];
      if (params === undefined || asked === undefined) return found;
      const named = Array.isArray(asked) ? asked : [asked];
      if (named.some((r) => typeof r !== 'string' || !resources.includes(r)))
        throw new errors['InvalidTarget']!(`this server issues tokens for ${resource} only`);
      const granted = [found['resource']].flat().filter((r): r is string => typeof r === 'string' && resources.includes(r));
      const servedAsAsked = named.length === 1 && granted.includes(named[0] as string);
      if (!servedAsAsked && granted[0] !== undefined) params['resource'] = granted[0];
      return found;
    }
  };
}
