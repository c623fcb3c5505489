import { z } from 'zod';
import { isPlainRecord } from '../../is-record.js';
import { describeIssues } from '../hub-server.js';

/**
 * What a client's answer to each kind of server→client request must look like (MCP
 * 2025-11-25: ElicitResult, CreateMessageResult, ListRootsResult), checked loosely: only what a
 * downstream reads to carry on. A method not listed takes any object.
 */
const ANSWERS: Readonly<Record<string, z.ZodType>> = {
  'elicitation/create': z.looseObject({ action: z.enum(['accept', 'decline', 'cancel']), content: z.record(z.string(), z.unknown()).optional() }),
  'sampling/createMessage': z.looseObject({
    role: z.enum(['user', 'assistant']),
    content: z.union([z.record(z.string(), z.unknown()), z.array(z.unknown())]),
    model: z.string(),
  }),
  'roots/list': z.looseObject({ roots: z.array(z.looseObject({ uri: z.string() })) }),
};

/**
 * Why `responses` cannot answer the requests `asked` (key → method), or undefined when it can:
 * not an object, a request left unanswered, or an answer of the wrong shape. Checked before a
 * held call is resumed, so a malformed retry is refused and the call keeps waiting for a good one
 * rather than being given an answer its downstream would fail on.
 */
export function inputResponsesProblem(asked: ReadonlyMap<string, string>, responses: unknown): string | undefined {
  if (!isPlainRecord(responses)) return 'inputResponses must be an object with an answer for each key of the inputRequests';
  for (const [key, method] of asked) {
    const answer = responses[key];
    if (answer === undefined) return `inputResponses has no answer for ${key} (${method})`;
    const checked = (ANSWERS[method] ?? z.record(z.string(), z.unknown())).safeParse(answer);
    if (!checked.success) return `inputResponses.${key} is not an answer to ${method}: ${describeIssues(checked.error.issues)}`;
  }
  return undefined;
}
