/**
 * MCP clients for the integration tests: the v2 SDK client on either protocol era, declaring URL
 * elicitation or not, counting the tools/list_changed notifications it receives.
 */
import { expect } from 'vitest';
import {
  Client,
  ProtocolError,
  StreamableHTTPClientTransport,
  type CallToolResult,
  type ElicitRequestURLParams,
  type ElicitResult,
  type Tool,
} from '@modelcontextprotocol/client';

export type Era = 'auto' | 'legacy';

export interface McpUser {
  client: Client;
  /** How many tools/list_changed notifications arrived. */
  readonly toolListChanges: number;
  /** URL elicitations the client was asked to show, in order. */
  readonly elicited: ElicitRequestURLParams[];
  tools(): Promise<Tool[]>;
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  era: Era;
  /**
   * Declares `elicitation: { url: {} }` and answers URL elicitations with this (a host opens the
   * URL for the user and reports what the user did). Without it the client declares no elicitation.
   */
  onUrl?: (params: ElicitRequestURLParams) => Promise<ElicitResult['action']>;
}

export async function connectMcp(url: string, token: string, opts: ConnectOptions): Promise<McpUser> {
  let changes = 0;
  const elicited: ElicitRequestURLParams[] = [];
  const client = new Client(
    { name: `integration-${opts.era}`, version: '1.0.0' },
    {
      versionNegotiation: { mode: opts.era },
      ...(opts.onUrl ? { capabilities: { elicitation: { url: {} } } } : {}),
      listChanged: { tools: { autoRefresh: false, debounceMs: 0, onChanged: () => void changes++ } },
    },
  );
  const onUrl = opts.onUrl;
  if (onUrl) {
    client.setRequestHandler('elicitation/create', async (req) => {
      if (req.params.mode !== 'url') throw new Error(`unexpected ${req.params.mode ?? 'form'} elicitation`);
      elicited.push(req.params);
      return { action: await onUrl(req.params) };
    });
  }
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return {
    client,
    get toolListChanges() {
      return changes;
    },
    elicited,
    tools: async () => (await client.listTools()).tools,
    call: (name, args = {}) => client.callTool({ name, arguments: args }),
    close: () => client.close(),
  };
}

/** The text of a result's first content block. */
export function textOf(r: CallToolResult): string {
  const first = r.content[0];
  if (first?.type !== 'text') throw new Error(`expected text first, got ${JSON.stringify(r.content)}`);
  return first.text;
}

/** A call expected to fail at the JSON-RPC level; returns the error. */
export async function rejection(p: Promise<unknown>): Promise<ProtocolError> {
  const outcome = await p.then(
    (r) => ({ ok: true as const, r }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  if (outcome.ok) throw new Error(`expected a JSON-RPC error, got ${JSON.stringify(outcome.r)}`);
  expect(outcome.err).toBeInstanceOf(ProtocolError);
  return outcome.err as ProtocolError;
}
