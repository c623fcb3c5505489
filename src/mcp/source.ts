import type {
  CallToolResult,
  CompleteRequestParams,
  CompleteResult,
  GetPromptResult,
  InputRequiredResult,
  LoggingLevel,
  Notification,
  Prompt,
  ReadResourceResult,
  Request,
  Resource,
  ResourceTemplateType as ResourceTemplate,
  Tool,
} from '@modelcontextprotocol/server';
import { ProtocolError } from '@modelcontextprotocol/server';
import { jsonRpcCodeOf } from '../errors.js';
import type { Identity } from '../identity/identity.js';
import type { TaskStarter } from './tasks/starter.js';
import type { CreateTaskResult } from './tasks/wire.js';

/**
 * The one interface every tool source implements: downstream MCP servers now, integrations and
 * agents later. The catalog knows sources only through it.
 */
export type SourceKind = 'mcp' | 'integration' | 'agent' | 'fixture';

export type SourceState = 'starting' | 'ready' | 'restarting' | 'failed' | 'stopped' | 'disabled';

export interface SourceStatus {
  state: SourceState;
  /** Why it is not ready, in words a user can act on. */
  detail?: string;
  /** Epoch ms of the last state change. */
  since: number;
  restarts: number;
  /** The protocol version negotiated with a downstream server, when there is one. */
  protocolVersion?: string;
}

export interface ProgressUpdate {
  progress: number;
  total?: number;
  message?: string;
}

/**
 * The reason a call's signal aborts when its caller went away without cancelling it: a 2025-era
 * session's connection closed, or the session ended. The 2025 transports say a disconnect is not a
 * cancel, so work the caller can read back later (an async agent's task, `agent__task_status`)
 * goes on; work whose answer had nowhere else to go stops. On 2026-07-28 a closed stream is the
 * cancel itself, and the reason is a plain abort.
 */
export class CallerGone extends Error {
  override readonly name = 'CallerGone';
}

/** What a source gets for one call: who calls, how to report progress, how to be cancelled. */
export interface CallContext {
  identity: Identity;
  signal: AbortSignal;
  /** Present when the client asked for progress. */
  reportProgress?: (p: ProgressUpdate) => Promise<void>;
  /** A notification related to this request (logging). */
  notify: (n: Notification) => Promise<void>;
  /**
   * A server→client request (sampling, elicitation, roots) related to this call, on connections
   * that allow one (2025-era sessions and stdio); undefined where the era has no such channel.
   */
  request?: (req: Request, opts: { signal: AbortSignal; timeoutMs?: number }) => Promise<unknown>;
  /**
   * The client connection `request` reaches (one per 2025 session or stdio face): calls with the
   * same one are one caller's, so a server→client request of either reaches the right client.
   */
  caller?: object;
  /**
   * The least severe log level the caller wants to receive: set with logging/setLevel on 2025
   * connections (none set means every level), carried in each request on 2026-07-28 (none means no
   * logs). Undefined: send none.
   */
  logLevel?: LoggingLevel;
  /** The client's declared capabilities, as far as the face knows them. */
  clientCapabilities?: Record<string, unknown>;
  /** Closes the SSE stream carrying this call (2025 sessions with resumability), so the client reconnects. */
  closeSSE?: () => void;
  /** The called tool's input schema as listed, for a source that mirrors its `Mcp-Param-*` headers (SEP-2243). */
  inputSchema?: unknown;
  /** Raw `_meta` of the request minus the protocol's reserved keys (forwarded downstream). */
  meta?: Record<string, unknown>;
  /**
   * The client's answers to the `inputRequests` of this call's previous round, keyed as the source
   * keyed them (multi-round-trip). Client-supplied and unvalidated: read them with the SDK's
   * `inputResponse`/`acceptedContent`. Entries that were not bare response objects are absent.
   */
  inputResponses?: Readonly<Record<string, unknown>>;
  /**
   * The `requestState` this source returned in the previous round. The hub signed it and checked
   * that it comes back for the same identity and the same tool, prompt or resource, so a source
   * may trust it as its own; it is readable by the client, so it must hold no secrets.
   */
  requestState?: string;
  /**
   * Present when the caller negotiated the Tasks extension (SEP-2663) and the tool declares task
   * support (`execution.taskSupport`): the source may run the call as a task and answer with the
   * CreateTaskResult this returns.
   */
  tasks?: TaskStarter;
}

/**
 * What a source returns when it needs input from the user or the client before it can finish
 * (sampling, elicitation including URL elicitation, roots): build it with the SDK's
 * `inputRequired({ inputRequests, requestState })`. On 2026-07-28 requests it goes to the client,
 * which retries the call with `inputResponses`; on 2025-era connections the SDK fulfils it with
 * server→client requests and calls the source again. Either way the source is called anew with
 * `ctx.inputResponses` and `ctx.requestState` set, so it keeps no state between rounds.
 */
export type InputRequired = InputRequiredResult;

export type ChangeKind = 'tools' | 'resources' | 'prompts';

/** `eventId`: the inbox event the update tells of, when it is one (the replicas tell each event once: src/replicas/hub-events.ts). */
export type ResourceUpdatedListener = (uri: string, identities?: readonly Identity[], eventId?: string) => void;

/** A notification a downstream server sent outside any call the hub can name (a log message, a URL elicitation's completion). */
export interface StrayNotification {
  method: string;
  params?: Record<string, unknown>;
}

/** Told of a stray notification and the identities whose own connection it came on: it is for their sessions alone. */
export type StrayListener = (n: StrayNotification, identities: readonly Identity[]) => void;

export interface SourceChange {
  kind: ChangeKind;
  /** Identities that see the change; undefined means everyone. */
  identities?: readonly Identity[];
  /**
   * A server announced it after a tool was called over the connection: maybe that call's doing
   * (a tool added at run time), so not what a fresh start of the server lists.
   */
  afterCall?: boolean;
  /**
   * The server's name, when one identity's own session with it read this list after the server
   * announced a change there (a 1.x-SDK server with a Server per session). Another replica's
   * connections to that server did not hear it: the HTTP face tells them to read it again
   * (`server_list_changed`, src/mcp/http-notices.ts).
   */
  readOnSession?: string;
}

export interface ToolSource {
  readonly name: string;
  readonly kind: SourceKind;
  /** Whether tool names are prefixed with `<name>__`. */
  readonly prefix: boolean;
  /**
   * Its tools/call requests may be served without the SDK's transport and Server
   * (src/mcp/direct-call.ts), which gives the call what the SDK's path gives it (progress, log
   * notifications, server→client requests and stream closes on 2025 sessions, input_required
   * handled per era) except a task: a call that asks for one goes the SDK's way.
   */
  readonly directCalls?: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): SourceStatus;
  /** The tools this identity may see, from the source's cache: no I/O on the list path. */
  tools(identity: Identity): readonly Tool[];
  callTool(tool: string, args: Record<string, unknown> | undefined, ctx: CallContext): Promise<CallToolResult | InputRequired | CreateTaskResult>;
  onChange(listener: (change: SourceChange) => void): () => void;
  /** Resolves when the source's lists may be served (a downstream server that is still starting). */
  whenListable?(): Promise<void>;
  /**
   * Reads this list again on a fresh connection of its own: another replica's session with the
   * same server read it after the server announced a change there only (`readOnSession`).
   */
  reread?(kind: ChangeKind): Promise<void>;
  /**
   * Resolves once the source has read again the lists its server said changed (undefined when it
   * is not reading any): what a caller asks right after such a change is answered from the new lists.
   */
  whenCurrent?(): Promise<void> | undefined;
  /**
   * While a source serves a cached list because it is still starting, resolves once it started
   * (undefined otherwise): a call to a tool that list lacks looks again then.
   */
  whenStarted?(): Promise<void> | undefined;

  resources?(identity: Identity): readonly Resource[];
  resourceTemplates?(identity: Identity): readonly ResourceTemplate[];
  /** Reads a resource this source owns; undefined when the URI is not its own. */
  readResource?(uri: string, ctx: CallContext): Promise<ReadResourceResult | InputRequired | undefined>;
  subscribeResource?(uri: string, identity: Identity): Promise<boolean>;
  unsubscribeResource?(uri: string, identity: Identity): Promise<boolean>;
  /**
   * Told when a resource changed. `identities` names whose resource it is (a user's own events
   * behind one URI); undefined means every subscriber of the URI may hear of it.
   */
  onResourceUpdated?(listener: ResourceUpdatedListener): () => void;
  /**
   * Told of what a server says outside any call on a connection of one identity's own (a 2025 HTTP
   * server's session per identity, a process per identity): that identity's clients hear it.
   */
  onStray?(listener: StrayListener): () => void;
  prompts?(identity: Identity): readonly Prompt[];
  getPrompt?(name: string, args: Record<string, string> | undefined, ctx: CallContext): Promise<GetPromptResult | InputRequired>;
  complete?(params: CompleteRequestParams, ctx: CallContext): Promise<CompleteResult | undefined>;
  setLogLevel?(level: LoggingLevel): Promise<void>;
}

/** A `CallToolResult` that reports a failure to the model, naming the source. */
/** A call naming a tool its source does not have: -32602 coded `tool_not_found`, told apart from a refusal of its arguments (dispatch.ts). */
export function unknownTool(name: string): ProtocolError {
  return new ProtocolError(jsonRpcCodeOf('tool_not_found'), `Unknown tool: ${name}`, { code: 'tool_not_found' });
}

export function toolError(text: string, extra?: Partial<CallToolResult>): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true, ...extra };
}
