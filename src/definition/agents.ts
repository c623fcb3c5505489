import { z } from 'zod';
import { firstPlaceholderAt, parsePath, placeholderProblems, unfillablePlaceholders } from './agent-template.js';
import { closedProperties, jsonSchemaProblems } from './json-schema-shape.js';

/**
 * The `agents` block of the config (ARCHITECTURE.md, "Config file"): one entry per agent, keyed by
 * the name its tool gets (`agent__<name>`), discriminated on `protocol`. All three protocols are
 * declared here so a config error names the right key even for a protocol this build does not run
 * yet (see src/agents/build.ts). A leaf schema, here so src/config/ can import it.
 */

/**
 * A tool's schema: an object schema (MCP: `type` is "object", added when left out), whose shape a
 * validator can compile (json-schema-shape.ts); each problem is an issue at its place.
 */
const toolSchema = (what: string) =>
  z
    .record(z.string(), z.unknown())
    .superRefine((s, ctx) => {
      if (s['type'] !== undefined && s['type'] !== 'object') {
        ctx.addIssue({ code: 'custom', path: ['type'], message: `must be "object": ${what}` });
        return;
      }
      for (const problem of jsonSchemaProblems(s)) ctx.addIssue({ code: 'custom', message: problem });
    })
    .transform((s) => (s['type'] === undefined ? { type: 'object', ...s } : s));

/**
 * Whether a URL carries credentials (`user:password@` before the host), as `server.publicUrl` may
 * not: the URL is shown where secrets are not (`agents list`, logs), and the Basic credential built
 * from it would not be scrubbed from answers as `apiKey` and credential headers are.
 */
const hasUserinfo = (s: string) => /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(s);
const NO_USERINFO = 'must have no credentials (user:password@): the URL is shown in lists and logs';

/** Base URL of an agent API: absolute http(s), or a path on the hub itself (the sandbox marketplace). */
const baseUrlSchema = z
  .string()
  .min(1)
  .refine((s) => s.startsWith('/') || /^https?:\/\/[^/]/.test(s), 'must be an http(s) URL, or a path on the hub starting with /')
  .refine((s) => !s.includes('?') && !s.includes('#'), 'must have no query or fragment')
  .refine((s) => !hasUserinfo(s), `${NO_USERINFO}; give the key as apiKey, other credentials in headers, which are kept secret`)
  .transform((s) => s.replace(/\/+$/, ''));

/**
 * A value HTTP can carry in a header (RFC 9110 §5.5: visible characters, spaces and tabs, and the
 * obsolete octets 0x80–0xFF). Anything else, such as a zero-width space pasted with a key, would
 * make every request fail before it is sent. The message names the character, never the value: it
 * is a secret.
 */
const headerValueSchema = (s: z.ZodString) =>
  s.superRefine((v, ctx) => {
    const at = v.search(/[^\t\x20-\x7e\x80-\xff]/);
    if (at < 0) return;
    const char = `U+${v.codePointAt(at)!.toString(16).toUpperCase().padStart(4, '0')}`;
    ctx.addIssue({
      code: 'custom',
      message: `holds ${char} at character ${at + 1}, which an HTTP header cannot carry (is it pasted with an invisible character?)`,
    });
  });

/** Header values are secrets (ARCHITECTURE.md): they are sent, never shown. Names are plain tokens (RFC 9110 §5.1). */
const headersSchema = z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'is not a valid header name'), headerValueSchema(z.string()));

/** An agent's answer is accepted only when the number at this JSON path is at least `min`. */
const minConfidenceSchema = z.strictObject({
  /** `$.confidence`, `output.score` or `scores[0].value`. */
  path: z.string().refine((p) => parsePath(p) !== undefined, "is not a JSON path ($.confidence, output.score, scores[0].value, $['odd key'])"),
  min: z.number(),
});

/**
 * `minConfidence` reads its number from the structured output. A Kore answer, or a streamed
 * upagents one, stays text unless the entry declares an `outputSchema` (the text is then read as the
 * JSON object it spells), so without one the check could never pass: refused with the config.
 */
function checkConfidenceReadable(a: { minConfidence?: unknown; outputSchema?: unknown }, answersText: string, ctx: z.RefinementCtx): void {
  if (a.minConfidence === undefined || a.outputSchema !== undefined) return;
  ctx.addIssue({
    code: 'custom',
    path: ['minConfidence'],
    message: `needs an outputSchema: the confidence is read from the structured output, and ${answersText} is text without one, where no number is found`,
  });
}

const fallbackSchema = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

// Messages never echo a secret: config errors are printed and logged.
const callbackSecretSchema = z.string().min(1, 'a secret is empty (is its ${VARIABLE} set?)');

/**
 * The secret an async agent's callbacks are signed with, or several while it is rotated (as a
 * webhook's `secrets`): the first is handed to the platform with each new task, and every one
 * verifies callbacks, so a task submitted before the rotation, signed with the secret it was
 * handed, still completes.
 */
const webhookSecretSchema = z.union([callbackSecretSchema, z.array(callbackSecretSchema).min(1, 'list at least one secret').max(10)]);

/** Keys every protocol shares: how the tool is described and how calls to it are guarded. */
const common = {
  description: z.string().min(1).optional(),
  /** JSON Schema of the tool's arguments (an object); the arguments are the agent's input. */
  inputSchema: toolSchema("a tool's arguments are a JSON object").optional(),
  /** JSON Schema (an object) the agent's output must match; it is the result's structuredContent. */
  outputSchema: toolSchema('MCP structuredContent is a JSON object').optional(),
  minConfidence: minConfidenceSchema.optional(),
  /** How long one attempt may take: the answer (sync), or the first byte and each silence after it (stream). */
  timeoutMs: z.number().int().min(1).max(3_600_000).default(30_000),
  /** Further attempts after transport errors, 5xx and 429. */
  retries: z.number().int().min(0).max(10).default(2),
  /** Agents tried in order when this one fails, its circuit is open, or its output is invalid. */
  fallback: fallbackSchema.optional(),
  headers: headersSchema.default({}),
  disabled: z.boolean().default(false),
};

/** Seed 000's REST tasks API: `POST {baseUrl}/agents/{agentId}/tasks`. */
export const upagentsAgentSchema = z
  .strictObject({
    protocol: z.literal('upagents'),
    baseUrl: baseUrlSchema,
    agentId: z.string().min(1),
    /** Sent as `Authorization: Bearer <apiKey>`. */
    apiKey: headerValueSchema(z.string().min(1)),
    mode: z.enum(['sync', 'async', 'stream']).default('sync'),
    /** Async: how long a call waits for the callback before it answers with a task handle. */
    waitMs: z.number().int().min(0).max(600_000).default(20_000),
    /** Async: the secret callbacks are signed with (a list while it is rotated). */
    webhookSecret: webhookSecretSchema.optional(),
    /** Allows an `agentId` that follows a moving `latest` alias. */
    allowLatest: z.boolean().default(false),
    ...common,
  })
  .superRefine((a, ctx) => {
    // Checked with the config, so `doctor` and every start refuse it naming the file, not only the hub's build.
    if (a.mode === 'async' && !a.webhookSecret && !a.disabled)
      ctx.addIssue({ code: 'custom', path: ['webhookSecret'], message: 'required with mode "async" (the agent\'s callbacks are verified with it)' });
    if (a.mode === 'stream') checkConfidenceReadable(a, 'a streamed answer', ctx);
  });

/**
 * The URL of a kore or http agent: absolute http(s), or a path on the hub itself (the sandbox
 * marketplace), resolved against the hub's URL when called.
 */
const agentUrlSchema = z
  .string()
  .min(1)
  .refine(
    (s) => s.startsWith('/') || (URL.canParse(s) && /^https?:$/.test(new URL(s).protocol)),
    'must be an http(s) URL, or a path on the hub starting with /',
  )
  .refine((s) => !s.includes('#'), 'must have no fragment')
  .refine((s) => !hasUserinfo(s), `${NO_USERINFO}; send them in headers (e.g. "Authorization": "Basic …"), which are kept secret`);

/** Seed 003's Kore proxy-agent protocol: one URL, the proxy request and response formats. */
export const koreAgentSchema = z
  .strictObject({
    protocol: z.literal('kore'),
    url: agentUrlSchema,
    /** Pins the version where the URL does not: refused when it is a `latest` alias. */
    agentId: z.string().min(1).optional(),
    /** Seed 003's "Asynchronous Integration": the answer comes to a callback URL on the hub. */
    async: z.boolean().default(false),
    /** Seed 003's `stream` (`streamMode: "messages"`): each message arrives as progress before the result. */
    stream: z.boolean().default(false),
    waitMs: z.number().int().min(0).max(600_000).default(20_000),
    webhookSecret: webhookSecretSchema.optional(),
    /** Ask the agent for its thoughts (`debugMode: "thoughts"`) when the caller listens for progress, and pass them on. */
    debug: z.boolean().default(false),
    allowLatest: z.boolean().default(false),
    ...common,
  })
  .superRefine((a, ctx) => {
    if (a.async && a.stream)
      ctx.addIssue({ code: 'custom', path: ['stream'], message: 'cannot be true with async: true (an answer either streams or comes to the callback)' });
    checkConfidenceReadable(a, 'a Kore answer', ctx);
  });

const jsonPathSchema = z.string().refine((p) => parsePath(p) !== undefined, "is not a JSON path ($, $.a.b, items[0].name, $['odd key'])");

/**
 * A request definition for agents that follow neither protocol (seed 003's "Request Definition"):
 * the request built from `{{…}}` placeholders (src/definition/agent-template.ts), the answer
 * read by JSON paths.
 */
export const httpAgentSchema = z
  .strictObject({
    protocol: z.literal('http'),
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
    /** May hold placeholders after the host (path and query), each sent percent-encoded. */
    url: agentUrlSchema,
    /** A JSON value whose strings may hold placeholders; sent as application/json. */
    body: z.json().optional(),
    /** Where the answer is in the response body. */
    response: z
      .strictObject({
        /** The output: one path, or an object of paths (each field of the output read from one). */
        output: z.union([jsonPathSchema, z.record(z.string(), jsonPathSchema)]).default('$'),
        /** When a value is here, the agent reported an error (its text is the message). */
        error: jsonPathSchema.optional(),
        /** The agent's id of the task, for logs and the result's _meta. */
        taskId: jsonPathSchema.optional(),
      })
      .default({ output: '$' }),
    agentId: z.string().min(1).optional(),
    allowLatest: z.boolean().default(false),
    ...common,
  })
  .superRefine((a, ctx) => {
    for (const p of placeholderProblems(a.url)) ctx.addIssue({ code: 'custom', path: ['url'], message: p.message });
    for (const p of placeholderProblems(a.body)) ctx.addIssue({ code: 'custom', path: ['body', ...p.path], message: p.message });
    // Without an inputSchema the tool takes `{ input }` alone; with a closed one, its properties.
    const fields = a.inputSchema === undefined ? new Set(['input']) : closedProperties(a.inputSchema);
    if (fields) {
      for (const p of unfillablePlaceholders(a.url, fields)) ctx.addIssue({ code: 'custom', path: ['url'], message: p.message });
      for (const p of unfillablePlaceholders(a.body, fields)) ctx.addIssue({ code: 'custom', path: ['body', ...p.path], message: p.message });
    }
    // The caller's arguments may choose the path and query, never the host the headers go to.
    const fixed = a.url.slice(0, firstPlaceholderAt(a.url));
    if (!fixed.startsWith('/') && !/^https?:\/\/[^/?#]+\//.test(fixed))
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'may hold placeholders only after the host (in the path or the query)' });
    if ((a.method === 'GET' || a.method === 'DELETE') && a.body !== undefined)
      ctx.addIssue({ code: 'custom', path: ['body'], message: `a ${a.method} request carries no body: put the values in the URL` });
  });

export const agentConfigSchema = z.discriminatedUnion('protocol', [upagentsAgentSchema, koreAgentSchema, httpAgentSchema]);

export type AgentConfig = z.infer<typeof agentConfigSchema>;
export type UpagentsAgentConfig = z.infer<typeof upagentsAgentSchema>;
export type KoreAgentConfig = z.infer<typeof koreAgentSchema>;
export type HttpAgentConfig = z.infer<typeof httpAgentSchema>;

/** An agent's callback secrets, the one new tasks are handed first; none when it has no `webhookSecret`. */
export function webhookSecretsOf(a: AgentConfig): string[] {
  const s = 'webhookSecret' in a ? a.webhookSecret : undefined;
  return s === undefined ? [] : typeof s === 'string' ? [s] : s;
}

/**
 * Seed 000, "Version Pinning": never point at latest. An id that is `latest` or ends in
 * `:latest`, `@latest`, `/latest`, `_latest`, `-latest` or `.latest` follows whatever the vendor
 * ships next. An id with no version at all is not refused: too many vendors' ids have none.
 */
export function isUnpinned(agentId: string): boolean {
  return /(^|[:@/_.-])latest$/i.test(agentId);
}

/**
 * The segment of a kore or http agent's URL path that follows a latest alias
 * (`https://host/agents/x/latest`, `/latest/run`, `/agents/x@latest`), if any: such a URL is the
 * id of an unpinned agent. Only the path is read; a query or a placeholder's value is not.
 */
export function unpinnedSegment(url: string): string | undefined {
  const path = url.startsWith('/') ? url.split(/[?#]/, 1)[0]! : URL.canParse(url) ? new URL(url).pathname : '';
  return path.split('/').map(decodedSegment).find(isUnpinned);
}

function decodedSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Whether an agent's answer comes to the hub's callback URL (upagents `mode: "async"`, kore `async: true`). */
export function runsAsync(a: AgentConfig): boolean {
  return (a.protocol === 'upagents' && a.mode === 'async') || (a.protocol === 'kore' && a.async);
}

/** The agents a fallback entry names, in order. */
export function fallbacksOf(a: { fallback?: string | string[] | undefined }): string[] {
  return a.fallback === undefined ? [] : typeof a.fallback === 'string' ? [a.fallback] : a.fallback;
}

/**
 * Checks across entries: pinned ids, fallbacks that name configured agents, no fallback cycle.
 * Each issue's path is `agents.<name>.<key>`, so the start-up error names the agent and the key.
 */
export function checkAgents(agents: Record<string, AgentConfig>, ctx: z.RefinementCtx): void {
  for (const [name, a] of Object.entries(agents)) {
    if (a.agentId !== undefined && isUnpinned(a.agentId) && !a.allowLatest) {
      ctx.addIssue({
        code: 'custom',
        path: [name, 'agentId'],
        message: `"${a.agentId}" follows a latest alias: pin a version (seed 000, "Version Pinning"), or set allowLatest: true`,
      });
    }
    // The segment alone in the message: a URL's query may carry a key.
    const segment = a.protocol === 'upagents' || a.allowLatest ? undefined : unpinnedSegment(a.url);
    if (segment !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [name, 'url'],
        message: `its path segment "${segment}" follows a latest alias: pin a version in the URL (seed 000, "Version Pinning"), or set allowLatest: true`,
      });
    }
    fallbacksOf(a).forEach((f, i) => {
      const path = typeof a.fallback === 'string' ? [name, 'fallback'] : [name, 'fallback', i];
      if (f === name) ctx.addIssue({ code: 'custom', path, message: `agent "${name}" cannot be its own fallback` });
      else if (!(f in agents)) ctx.addIssue({ code: 'custom', path, message: `names "${f}", which is not a configured agent` });
      // An async agent is submitted with the hub's callback URL only by an async call: a sync or
      // stream call that fell back to it would hand the platform a task nobody collects.
      else if (!runsAsync(a) && runsAsync(agents[f]!))
        ctx.addIssue({
          code: 'custom',
          path,
          message: `names "${f}", which runs async: "${name}" answers within its call, so its fallbacks must too; name a sync or stream agent, or make "${name}" async as well`,
        });
    });
  }
  const cycle = findCycle(agents);
  if (cycle) ctx.addIssue({ code: 'custom', path: [cycle[0]!, 'fallback'], message: `fallbacks form a cycle: ${cycle.join(' → ')}` });
}

/** The first fallback cycle found (longer than a self-reference, reported above), as names ending where they began. */
function findCycle(agents: Record<string, AgentConfig>): string[] | undefined {
  const done = new Set<string>();
  const visit = (name: string, path: string[]): string[] | undefined => {
    const at = path.indexOf(name);
    if (at >= 0) return path.length - at > 1 ? [...path.slice(at), name] : undefined;
    if (done.has(name) || !(name in agents)) return undefined;
    for (const f of fallbacksOf(agents[name]!)) {
      const found = visit(f, [...path, name]);
      if (found) return found;
    }
    done.add(name);
    return undefined;
  };
  for (const name of Object.keys(agents)) {
    const c = visit(name, []);
    if (c) return c;
  }
  return undefined;
}
