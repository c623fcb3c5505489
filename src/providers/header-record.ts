/**
 * Request headers as a plain record of lower-case names: what node:http takes, holding what a
 * Headers would (a name in any case is one name, a repeated name's values joined by ", ", values
 * without leading or trailing HTTP whitespace). A record is copied without building a Headers:
 * an agent call built three on its way out, and on a path run every few tens of milliseconds,
 * its code cold each time, undici's Headers cost more than the rest of the request's assembly
 * (`npm run bench:agents`). Names and values are checked where they are sent (node:http, or the
 * fetch given), with the errors those raise for a header that cannot be sent.
 */
export type HeaderRecord = Record<string, string>;

export function headerRecord(init: HeadersInit | undefined): HeaderRecord {
  // No prototype: a header named `__proto__` is a name like any other.
  const out = Object.create(null) as HeaderRecord;
  if (init === undefined) return out;
  if (init instanceof Headers || Array.isArray(init)) {
    new Headers(init).forEach((value, name) => {
      out[name] = value;
    });
    return out;
  }
  for (const [name, value] of Object.entries(init)) appendHeader(out, name, value);
  return out;
}

/** Sets `name` (any case), replacing what it held, as Headers#set. */
export function setHeader(headers: HeaderRecord, name: string, value: string): void {
  headers[name.toLowerCase()] = trimHttpWhitespace(value);
}

/** Adds a value to `name` (any case), as Headers#append: a second value joins the first. */
function appendHeader(headers: HeaderRecord, name: string, value: string): void {
  const key = name.toLowerCase();
  const v = trimHttpWhitespace(String(value));
  const had = headers[key];
  headers[key] = had === undefined ? v : `${had}, ${v}`;
}

/** Fetch's header value normalization: leading and trailing HTTP whitespace (tab, LF, CR, space) removed. */
function trimHttpWhitespace(value: string): string {
  return value.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
}
