import { IncomingMessage, ServerResponse, type RequestListener } from 'node:http';
import type { Socket } from 'node:net';

/** The prototypes an express app gives its requests and responses (`app.request`, `app.response`). */
export interface ExpressPrototypes {
  request: object;
  response: object;
}

/** A request listener built on an express app, with that app's prototypes. */
export interface HttpApp {
  handle: RequestListener;
  prototypes: ExpressPrototypes;
}

/** What `http.createServer` takes to build its requests and responses, and the switch to an app's prototypes. */
export interface BornMessages {
  IncomingMessage: typeof IncomingMessage;
  ServerResponse: typeof ServerResponse;
  /** From now on, requests and responses are born with these prototypes. */
  adopt(prototypes: ExpressPrototypes): void;
}

/**
 * Request and response classes for `http.createServer` whose instances are born with an express
 * app's prototypes once the app exists. Express (and the /mcp route, mcp-route.ts) give every
 * request and response the app's prototypes with `Object.setPrototypeOf`. Done to a live object,
 * that made V8 keep each request's objects through its young-generation collections: about a
 * third of what a request allocated was promoted and left to full collections, where a bare
 * node:http server promotes almost nothing. Done to an object born with that prototype it changes
 * nothing, and costs nothing. Until `adopt`, they are node's own (the "starting" answers).
 */
export function expressBornMessages(): BornMessages {
  // Constructor functions rather than classes: a class's `prototype` cannot be replaced, and it
  // must be the app's own object (not one inheriting from it) for express's setPrototypeOf to be a no-op.
  function Request(this: IncomingMessage, socket: Socket): void {
    Reflect.apply(IncomingMessage, this, [socket]);
  }
  function Response(this: ServerResponse, req: IncomingMessage, options?: unknown): void {
    Reflect.apply(ServerResponse, this, [req, options]);
  }
  Request.prototype = IncomingMessage.prototype;
  Response.prototype = ServerResponse.prototype;
  return {
    IncomingMessage: Request as unknown as typeof IncomingMessage,
    ServerResponse: Response as unknown as typeof ServerResponse,
    adopt(prototypes) {
      // Express's own prototypes inherit from node's (express/lib/request.js, response.js).
      if (!(prototypes.request instanceof IncomingMessage) || !(prototypes.response instanceof ServerResponse)) {
        throw new TypeError("an express app's request and response prototypes must inherit from node's");
      }
      Request.prototype = prototypes.request;
      Response.prototype = prototypes.response;
    },
  };
}
