import { z } from 'zod';

/**
 * The `agents` block of the config (ARCHITECTURE.md, "Config file"): one entry per agent, keyed by
 * the name its tool gets (`agent__<name>`), discriminated on `protocol`. All three protocols are
 * declared here so a config error names the right key even for a protocol this build does not run
 * yet (see src/agents/build.ts). A leaf schema, here so src/config/ can import it.
 */

const jsonSchemaObject = z.record(z.string(), z.unknown());

/** Base URL of an agent API: absolute http(s), or a path on the hub itself (the sandbox marketplace). */
const baseUrlSchema = z
  .string()
  .min(1)
  .refine((s) => s.startsWith('/') || /^https?:\/\/[^/]/.test(s), 'must be an http(s) URL, or a path on the hub starting with /')
  .refine((s) => !s.includes('?') && !s.includes('#'), 'must have no query or fragment')
  .transform((s) => s.replace(/\/+$/, ''));

/** Header values are secrets (ARCHITECTURE.md): they are sent, never shown. Names are plain tokens (RFC 9110 §5.1). */
const headersSchema = z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'is not a valid header name'), z.string());

/** An agent's answer is accepted only when the number at this JSON path is at least `min`. */
const minConfidenceSchema = z.strictObject({
  /** `$.confidence`, `output.score` or `scores[0].value`. */
  path: z.string().min(1),
  min: z.number(),
});

const fallbackSchema = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

/** Keys every protocol shares: how the tool is described and how calls to it are guarded. */
const common = {
  description: z.string().min(1).optional(),
  /** JSON Schema of the tool's arguments (an object); the arguments are the agent's input. */
  inputSchema: jsonSchemaObject.optional(),
  /** JSON Schema (an object) the agent's output must match; it is the result's structuredContent. */
  outputSchema: jsonSchemaObject
    .refine((s) => s['type'] === undefined || s['type'] === 'object', 'must describe an object (MCP structuredContent is an object)')
    .optional(),
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
export const upagentsAgentSchema = z.strictObject({
  protocol: z.literal('upagents'),
  baseUrl: baseUrlSchema,
  agentId: z.string().min(1),
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey: z.string().min(1),
  mode: z.enum(['sync', 'async', 'stream']).default('sync'),
  /** Async: how long a call waits for the callback before it answers with a task handle. */
  waitMs: z.number().int().min(0).max(600_000).default(20_000),
  /** Async: the secret callbacks are signed with. */
  webhookSecret: z.string().min(1).optional(),
  /** Allows an `agentId` that follows a moving `latest` alias. */
  allowLatest: z.boolean().default(false),
  ...common,
});

/** Seed 003's Kore proxy-agent protocol: one URL, the proxy request and response formats. */
export const koreAgentSchema = z.strictObject({
  protocol: z.literal('kore'),
  url: z.url({ protocol: /^https?$/ }),
  /** Pins the version where the URL does not: refused when it is a `latest` alias. */
  agentId: z.string().min(1).optional(),
  async: z.boolean().default(false),
  waitMs: z.number().int().min(0).max(600_000).default(20_000),
  webhookSecret: z.string().min(1).optional(),
  /** Pass the agent's debug thoughts to the caller as progress. */
  debug: z.boolean().default(false),
  allowLatest: z.boolean().default(false),
  ...common,
});

/** A request definition for agents that follow neither protocol. */
export const httpAgentSchema = z.strictObject({
  protocol: z.literal('http'),
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
  url: z.url({ protocol: /^https?$/ }),
  /** A JSON value whose strings may hold `{{input.x}}` and `{{sessionId}}`. */
  body: z.unknown().optional(),
  /** Where the output is in the response: a JSON path, `$` for the whole body. */
  outputPath: z.string().min(1).default('$'),
  agentId: z.string().min(1).optional(),
  allowLatest: z.boolean().default(false),
  ...common,
});

export const agentConfigSchema = z.discriminatedUnion('protocol', [upagentsAgentSchema, koreAgentSchema, httpAgentSchema]);

export type AgentConfig = z.infer<typeof agentConfigSchema>;
export type UpagentsAgentConfig = z.infer<typeof upagentsAgentSchema>;

/**
 * Seed 000, "Version Pinning": never point at latest. An id that is `latest` or ends in
 * `:latest`, `@latest`, `/latest`, `_latest` or `-latest` follows whatever the vendor ships next.
 */
export function isUnpinned(agentId: string): boolean {
  return /(^|[:@/_-])latest$/i.test(agentId);
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
    fallbacksOf(a).forEach((f, i) => {
      const path = typeof a.fallback === 'string' ? [name, 'fallback'] : [name, 'fallback', i];
      if (f === name) ctx.addIssue({ code: 'custom', path, message: `agent "${name}" cannot be its own fallback` });
      else if (!(f in agents)) ctx.addIssue({ code: 'custom', path, message: `names "${f}", which is not a configured agent` });
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
