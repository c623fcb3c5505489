import { fromJsonSchema } from '@modelcontextprotocol/server';
import { readPath } from '../definition/agent-template.js';
import { objectIn } from './adapter.js';

/** Why an output is refused; undefined means valid. */
export type OutputRule = (output: unknown) => string | undefined;

/**
 * Seed 000, "Semantic Errors": a 200 does not mean the output is right. An agent's own answer is
 * accepted when it matches the declared schema (with the SDK's own JSON Schema validator, as tool
 * inputs are) and, when asked, carries a confidence of at least `min` at a JSON path (the check
 * itself). An answer returned as the agent's tool by a fallback is held to the schema alone
 * (`asTool`): the schema is the tool's contract, `minConfidence` a rule about this agent's own answers.
 */
export interface OutputCheck extends OutputRule {
  asTool: OutputRule;
}

export interface OutputRules {
  outputSchema?: Record<string, unknown> | undefined;
  minConfidence?: { path: string; min: number } | undefined;
}

export function outputCheck(r: OutputRules): OutputCheck {
  const declared = r.outputSchema;
  // Compiled on the first output, as tool inputs are (src/mcp/validate-input.ts): ajv and its
  // compile are not needed before the stdio face's first tools/list.
  let schema: ReturnType<typeof fromJsonSchema>['~standard'] | undefined;
  const confidence = r.minConfidence;
  const asTool: OutputRule = (output) => {
    if (!declared) return undefined;
    schema ??= fromJsonSchema({ type: 'object', ...declared })['~standard'];
    // MCP: structuredContent is a JSON object; a string or array cannot be the tool's declared output.
    if (output === null || typeof output !== 'object' || Array.isArray(output)) return 'the output is not a JSON object, as the output schema asks';
    const v = schema.validate(output);
    if (v instanceof Promise) return 'the JSON Schema validator answered asynchronously';
    if (v.issues) return `the output does not match the output schema: ${v.issues.map((i) => i.message).join('; ')}`;
    return undefined;
  };
  const own: OutputRule = (output) => {
    const why = asTool(output);
    if (why !== undefined || !confidence) return why;
    const found = atPath(output, confidence.path);
    if (typeof found !== 'number' || Number.isNaN(found)) return `the output has no number at ${confidence.path} (minConfidence)`;
    if (found < confidence.min) return `the confidence at ${confidence.path} is ${found}, below ${confidence.min}`;
    return undefined;
  };
  return Object.assign(own, { asTool });
}

/** What `acceptAnswer` needs of an agent: its name, whether it declares an output schema, its checks. */
export interface CheckedAgent {
  name: string;
  config: { outputSchema?: Record<string, unknown> | undefined };
  checkOutput: OutputCheck;
}

/** An answer's output as the called tool returns it, or why it is refused. */
export type Accepted = { output: unknown } | { refused: string };

/**
 * The answer of `answered` as the result of the tool `called`. The called agent's own answer passes
 * its own checks. A fallback's passes its own checks and the called tool's schema, not the called
 * agent's minConfidence. Where a schema applies (the answering agent's or the called tool's), text
 * is read as the JSON object it spells: its structuredContent must be an object, and agents answer
 * text (Kore, a stream) or the JSON string of the object (some platforms' sync and callback
 * `output`); text that spells no object then fails the schema with a clear reason.
 */
export function acceptAnswer(answered: CheckedAgent, called: CheckedAgent, output: unknown): Accepted {
  const schema = answered.config.outputSchema !== undefined || called.config.outputSchema !== undefined;
  const read = typeof output === 'string' && schema ? objectIn(output) : output;
  const why = answered.name === called.name ? answered.checkOutput(read) : (answered.checkOutput(read) ?? called.checkOutput.asTool(read));
  return why === undefined ? { output: read } : { refused: why };
}

/** The value at a small JSON path: `$.a.b`, `a.b`, `scores[0].value`, `$['odd key']` (src/definition/agent-template.ts). */
export const atPath = readPath;
