import type { CallToolResult } from '@modelcontextprotocol/server';
import { outputCheck, type OutputRule } from '../agents/validate-output.js';
import { ERROR_META_KEY, errorMetaOf } from '../errors.js';
import { cutText } from '../providers/cut-text.js';

/**
 * The check of a tool's results against the output schema it lists, with the SDK's JSON Schema
 * validator as agents' answers are checked (src/agents/validate-output.ts): MCP requires the
 * structured results of a tool with an output schema to conform to it, and the SDK clients turn
 * one that does not (or an answer without structuredContent, a list where an object is declared)
 * into a protocol error, the data and the reason lost.
 */
export function outputRule(listed: Record<string, unknown>): OutputRule {
  return outputCheck({ outputSchema: listed }).asTool;
}

export interface Unfit {
  /** The tool as clients call it (`gh__list`). */
  qualified: string;
  /** The integration's title, who answered. */
  title: string;
  /** What the check found (outputRule's reason). */
  why: string;
  /** Whether the call was a write: it was made, so calling again makes it again. */
  write: boolean;
}

/**
 * The answer that does not fit as a tool error the model can read: the mismatch, and the answer's
 * text (what the provider said, which the model may still use). Final: the same call gets the same answer.
 */
export function unfitResult(u: Unfit, answered: CallToolResult): CallToolResult {
  const first = answered.content[0];
  const text = first?.type === 'text' ? cutText(first.text, 2000) : '';
  const made = u.write ? ' The write was made: calling again would make it again.' : '';
  return {
    content: [
      {
        type: 'text',
        text: `${u.qualified}: ${u.title}'s answer does not fit the tool's output schema (${u.why}).${made}${text ? ` The answer: ${text}` : ''}`,
      },
    ],
    isError: true,
    _meta: { [ERROR_META_KEY]: errorMetaOf('downstream_error') },
  };
}
