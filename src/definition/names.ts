import { z } from 'zod';

/**
 * Names the hub gives its own tools (ARCHITECTURE.md, "Hub tools and resources"):
 * `agent__<agent>` and `agent__task_status`, `queue__job_status`, `<integration>__recent_events`.
 * A configured name equal to one of them would take the hub's tool or shadow it, so it is refused
 * where it is written rather than when the catalog is built.
 */
export const RESERVED_SOURCE_NAMES: readonly string[] = ['agent', 'queue'];
export const RESERVED_INTEGRATION_TOOL_NAMES: readonly string[] = ['recent_events'];
export const RESERVED_AGENT_NAMES: readonly string[] = ['task_status'];

const NAME = /^[A-Za-z0-9_-]{1,48}$/;
const NAME_HELP = 'use 1–48 characters from A-Z a-z 0-9 _ -';

// Case-insensitive: `Agent__task_status` beside `agent__task_status` would pass for the hub's tool.
function reserved(list: readonly string[], what: string, why: string) {
  return (s: string, ctx: z.RefinementCtx) => {
    if (list.includes(s.toLowerCase()))
      ctx.addIssue({ code: 'custom', message: `"${s}" is reserved: no ${what} may be named ${list.map((n) => `"${n}"`).join(' or ')} (${why})` });
  };
}

export const toolNameSchema = z.string().regex(NAME, NAME_HELP);

/** Names that become tool-name prefixes: the contract's character set, no double underscore. */
export const sourceNameSchema = z
  .string()
  .regex(NAME, NAME_HELP)
  .refine((s) => !s.includes('__'), 'must not contain "__" (it separates the source from the tool)')
  .superRefine(reserved(RESERVED_SOURCE_NAMES, 'source', 'the hub names its own tools agent__… and queue__…'));

export const integrationToolNameSchema = toolNameSchema.superRefine(
  reserved(RESERVED_INTEGRATION_TOOL_NAMES, 'integration tool', 'the hub serves <integration>__recent_events'),
);

export const agentNameSchema = sourceNameSchema.superRefine(reserved(RESERVED_AGENT_NAMES, 'agent', 'the hub serves agent__task_status'));
