import { ProtocolError, ProtocolErrorCode, Server, type JSONRPCRequest, type Result, type ServerContext } from '@modelcontextprotocol/server';
import { isRecord } from '../is-record.js';

type Handler = (request: JSONRPCRequest, ctx: ServerContext) => Promise<Result>;

/** One zod issue, as much of it as a message needs. */
interface Issue {
  path?: readonly unknown[];
  message?: unknown;
}

/** `params.uri: Invalid input: expected string, received number; …`: zod's issues on one line a person can read. */
export function describeIssues(issues: readonly Issue[]): string {
  return issues
    .map((i) => {
      const path = Array.isArray(i.path) && i.path.length > 0 ? `${i.path.map(String).join('.')}: ` : '';
      return `${path}${typeof i.message === 'string' ? i.message : 'invalid'}`;
    })
    .join('; ');
}

/** The issues when `text` is zod's JSON dump of them (how the SDK words a failed check), else undefined. */
function issuesIn(text: string): Issue[] | undefined {
  if (!text.startsWith('[')) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) && parsed.length > 0 && parsed.every(isRecord) ? (parsed as Issue[]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The SDK's Server, with a caller's bad params answered as such. The SDK checks a spec method's
 * params before its handler runs and throws a plain Error whose message is zod's issues as JSON:
 * the client got -32603 "Internal error" (a fault of the hub, per docs/errors.md) with a
 * multi-line dump. Here that is -32602 with the issues on one line; the SDK's own -32602s (a bad
 * tools/call request) get the same one-line wording.
 */
export class HubServer extends Server {
  protected override _wrapHandler(method: string, handler: Handler): Handler {
    const checked: Handler = (request, ctx) => {
      try {
        return handler(request, ctx);
      } catch (err) {
        // Thrown before any handler of ours ran (they are async and reject instead): the params check.
        const issues = err instanceof Error && !(err instanceof ProtocolError) ? issuesIn(err.message) : undefined;
        if (issues) return Promise.reject(new ProtocolError(ProtocolErrorCode.InvalidParams, `Invalid params for ${method}: ${describeIssues(issues)}`));
        throw err;
      }
    };
    const wrapped = super._wrapHandler(method, checked);
    return (request, ctx) => wrapped(request, ctx).catch((err: unknown) => Promise.reject(oneLine(err)));
  }
}

/** An SDK -32602 whose message ends in zod's JSON dump, reworded on one line; anything else as it is. */
function oneLine(err: unknown): unknown {
  if (!(err instanceof ProtocolError) || err.code !== ProtocolErrorCode.InvalidParams) return err;
  const at = err.message.indexOf(': [');
  const issues = at < 0 ? undefined : issuesIn(err.message.slice(at + 2));
  return issues ? new ProtocolError(ProtocolErrorCode.InvalidParams, `${err.message.slice(0, at)}: ${describeIssues(issues)}`, err.data) : err;
}
