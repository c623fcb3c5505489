import { Readable } from 'node:stream';
import { LazyHeaders } from './lazy-headers.js';

/**
 * A Response over a Node stream, with the web stream built only for a caller that asks for `body`
 * (or reads it with text(), json() and the like). A reader that knows it (sse.ts) takes the Node
 * stream itself: `Readable.toWeb` and reads through its reader cost a streamed agent call ~0.6 ms
 * between its answer's headers and its first event on a small VM (`npm run bench:agents`).
 *
 * Defined on first use, as node-fetch.ts's buffered one: `extends Response` loads Node's fetch.
 */
function defineStreamedResponse() {
  class StreamedResponse extends Response {
    #node: Readable | undefined;
    #web: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
    /** The headers as received, built into Headers only if read so (a stream's reader wants its content type only). */
    readonly #lazy: LazyHeaders;

    constructor(node: Readable, init: StreamedInit) {
      const { headers, ...rest } = init;
      super(null, rest);
      this.#node = node;
      this.#lazy = new LazyHeaders(headers as [string, string][]);
    }

    override get headers(): Headers {
      return this.#lazy.headers;
    }

    /** One header's value (lower-case `name`), without building Headers. */
    header(name: string): string | null {
      return this.#lazy.get(name);
    }

    /** The Node stream, once, for a reader that consumes it whole; undefined once taken or turned into `body`. */
    takeNode(): Readable | undefined {
      const node = this.#node;
      this.#node = undefined;
      return node;
    }

    override get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
      if (this.#web === undefined) {
        const node = this.#node ?? Readable.from([]);
        this.#node = undefined;
        this.#web = Readable.toWeb(node) as ReadableStream<Uint8Array<ArrayBuffer>>;
      }
      return this.#web;
    }

    override get bodyUsed(): boolean {
      return this.#node === undefined && (this.#web === undefined || this.#web.locked);
    }

    override async arrayBuffer(): Promise<ArrayBuffer> {
      return this.#whole().arrayBuffer();
    }

    override async bytes(): Promise<Uint8Array<ArrayBuffer>> {
      return new Uint8Array(await this.#whole().arrayBuffer());
    }

    override async text(): Promise<string> {
      return this.#whole().text();
    }

    override async json(): Promise<unknown> {
      return JSON.parse(await this.text());
    }

    override async blob(): Promise<Blob> {
      return new Blob([await this.bytes()], { type: this.headers.get('content-type') ?? '' });
    }

    override clone(): Response {
      if (this.bodyUsed) throw new TypeError('Response.clone: Body has already been consumed.');
      const [a, b] = this.body!.tee();
      this.#web = a;
      return new Response(b, { status: this.status, statusText: this.statusText, headers: this.headers });
    }

    /** A plain Response over the same bytes, to read whole; refuses a body read already, as fetch does. */
    #whole(): Response {
      if (this.bodyUsed) throw new TypeError('Body is unusable: Body has already been read');
      return new Response(this.body, { status: this.status, headers: this.headers });
    }
  }
  return StreamedResponse;
}

/** A streamed response's status and its headers as received: name and value pairs. */
export interface StreamedInit {
  status: number;
  statusText: string;
  headers: ReadonlyArray<readonly [string, string]>;
}

let streamedClass: ReturnType<typeof defineStreamedResponse> | undefined;

/** A Response whose body is `node`, turned into a web stream only if someone asks (see defineStreamedResponse). */
export function streamedResponse(node: Readable, init: StreamedInit): Response {
  streamedClass ??= defineStreamedResponse();
  return new streamedClass(node, init);
}

/** The Node stream under a streamed response, taken: the caller now reads (and ends) it; undefined for any other response or once taken. */
export function takeNodeBody(res: Response): Readable | undefined {
  return streamedClass !== undefined && res instanceof streamedClass ? res.takeNode() : undefined;
}

/** A header of `res`, its name in any case; for a streamed response, without building its Headers. */
export function headerOf(res: Response, name: string): string | null {
  return streamedClass !== undefined && res instanceof streamedClass ? res.header(name.toLowerCase()) : res.headers.get(name);
}
