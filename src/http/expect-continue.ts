import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1): a client that sends it (curl does for bodies over
 * 1 MiB, as do many HTTP libraries) waits for `100 Continue` before sending its body. Node sends
 * that at once, on the headers alone, so a body the hub refuses before reading it (over
 * `maxBodyBytes`, no token, a refused Host) was invited and sent in full before its 413, 401 or
 * 403 arrived. Here the 100 goes out only when a handler starts reading the body; a request
 * answered first gets its final status alone (and its connection closes, as Node does for an
 * expectation it did not meet), so the client never sends what nobody reads.
 */
export function continueOnRead(server: Server): void {
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const read = req._read.bind(req);
    let asked = false;
    req._read = (size: number) => {
      if (!asked) {
        asked = true;
        if (!res.headersSent && !res.writableEnded) res.writeContinue();
      }
      read(size);
    };
    server.emit('request', req, res);
  });
}
